"""Cold start-up of `rag stats` / `rag search`, and shared-server vs in-process Milvus Lite search latency.

What is timed (wall clock, median of ``--runs`` fresh processes each):

* ``rag stats`` and ``rag search`` on ``pipelines/local.yaml`` (a copy whose
  index lives in a temporary folder, the demo corpus ingested first), with
  the shared Milvus Lite server already up (the usual case: the UI or an
  earlier command started it) and with ``RAG_MILVUS_LITE_SERVER=off``
  (in-process, the pre-issue-14 way; one process at a time).
* ``rag search`` when no server runs yet (it starts one: the worst case).
* In one process: ``Pipeline.search`` latency through the shared server vs
  in-process (p50 / p95 over ``--queries`` queries, after a warm-up).

CPU time (user + sys) is printed next to wall time: on a shared machine it is
the steadier number. Run::

    python eval/benchmarks/cli_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RAG = [sys.executable, "-c", "from rag_app.cli import run; run()"]
QUERIES = [
    "how does attention scale with sequence length?", "what is LoRA?", "explain gradient descent",
    "what does byte-pair encoding merge?", "why normalise embeddings?", "what is a transformer?",
    "how is recall at k computed?", "what is dropout?", "what does softmax do?", "what is an eigenvector?",
]  # fmt: skip


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, cpu s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(cmd: list[str], env: dict[str, str], runs: int, before: list[str] | None = None) -> str:
    walls, cpus = [], []
    for _ in range(runs):
        if before:
            subprocess.run(before, capture_output=True, env=env, cwd=REPO, check=False)
        wall, cpu = _timed(cmd, env)
        walls.append(wall)
        cpus.append(cpu)
    return (f"median {statistics.median(walls):5.2f} s wall (min {min(walls):.2f}, max {max(walls):.2f}), "
            f"{statistics.median(cpus):5.2f} s cpu")  # fmt: skip


def _latency(config: Path, queries: int) -> dict[str, str]:
    from rag_app.config import load_config
    from rag_app.pipeline import build_pipeline

    out = {}
    for mode in ("shared", "off"):
        os.environ["RAG_MILVUS_LITE_SERVER"] = mode
        pipeline = build_pipeline(load_config(config))
        store_only = pipeline.store
        pipeline.search(QUERIES[0], top_k=5)  # warm-up: models, indexes, connection
        times, store_times = [], []
        vector = pipeline.embedder.embed_query(QUERIES[0])
        for i in range(queries):
            start = time.perf_counter()
            pipeline.search(QUERIES[i % len(QUERIES)], top_k=5)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            store_only.search(vector, 5)
            store_times.append(time.perf_counter() - start)
        pipeline.close()
        if mode == "shared":  # frees the file for the in-process pass
            from rag_app.backends.stores.milvus import lite_server as _lite_server

            _lite_server.stop(pipeline.config.resolve_path(pipeline.config.store.params["uri"]))
        times.sort()
        store_times.sort()
        p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
        out[mode] = (f"Pipeline.search p50 {p(times, 0.5):6.1f} ms p95 {p(times, 0.95):6.1f} ms; "
                     f"store.search p50 {p(store_times, 0.5):5.1f} ms p95 {p(store_times, 0.95):5.1f} ms")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rag-startup-") as tmp:
        data = yaml.safe_load((REPO / "pipelines" / "local.yaml").read_text(encoding="utf-8"))
        data["store"]["params"]["uri"] = str(Path(tmp) / "index" / "local.db")
        data["ingest"]["state_dir"] = str(Path(tmp) / "index")
        config = Path(tmp) / "local.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {**os.environ, "RAG_MILVUS_LITE_SERVER": "shared", "RAG_MILVUS_LITE_IDLE_S": "600"}
        subprocess.run([*RAG, "ingest", "-c", str(config), str(REPO / "data" / "corpus")], env=env, cwd=REPO,
                       check=True, capture_output=True)  # fmt: skip
        c = ["-c", str(config)]
        search = [*RAG, "search", *c, "-k", "3", QUERIES[0]]
        stop = [*RAG, "lite", "stop", *c]
        off = {**env, "RAG_MILVUS_LITE_SERVER": "off"}
        subprocess.run(stop, env=env, cwd=REPO, check=False, capture_output=True)
        rows = [
            ("rag stats   (in-process Lite)", _median([*RAG, "stats", *c], off, args.runs)),
            ("rag search  (in-process Lite)", _median(search, off, args.runs)),
            ("rag search  (starts the shared server)", _median(search, env, args.runs, before=stop)),
        ]
        subprocess.run([*RAG, "stats", *c], env=env, cwd=REPO, check=True, capture_output=True)  # server up
        rows += [
            ("rag stats   (shared server running)", _median([*RAG, "stats", *c], env, args.runs)),
            ("rag search  (shared server running)", _median(search, env, args.runs)),
        ]
        width = max(len(name) for name, _ in rows)
        for name, text in rows:
            print(f"{name:<{width}}  {text}")
        subprocess.run(stop, env=env, cwd=REPO, check=False, capture_output=True)
        for mode, text in _latency(config, args.queries).items():
            print(f"search latency, {'shared server' if mode == 'shared' else 'in-process  '}: {text}")
        subprocess.run(stop, env=env, cwd=REPO, check=False, capture_output=True)


if __name__ == "__main__":
    main()
