"""How long one ``rag ingest`` takes over the hostile corpus (tests/support/hostile_corpus.py).

The corpus is built in a fresh temporary folder (broken PDFs and DOCX, odd
encodings, binaries under text names, a 3 MB single line, 2.5 million
newlines, odd names, symbolic-link loops and links out of the root), then the
real CLI ingests it once, in a subprocess, with ``--json``. The wall-clock time
includes CLI start-up; ``report_s`` is the ingest's own figure. The default
pipeline is the test one (hashing embedder, memory store: no model loads), so
the number measures loading, sniffing, refusing and chunking; pass
``--config pipelines/local.yaml`` to include a real embedder and store (their
index is written under the temporary folder only if the config says so).

tests/integration/test_hostile_corpus.py checks the outcome of the same batch;
this script tracks its speed (a return to minutes means a hostile file stalls
the batch).

Run::

    nice -n 19 python eval/benchmarks/hostile_corpus.py [--repeat 3] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.conftest import fast_config_dict  # noqa: E402
from tests.support.hostile_corpus import build  # noqa: E402


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"


def rag_command() -> list[str]:
    script = Path(sys.executable).with_name("rag")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from rag_app.cli import run; run()"]


def one_run(tmp: Path, config: Path | None) -> dict[str, Any]:
    """Build the corpus under ``tmp``, ingest it once, and return the figures."""
    import yaml

    corpus = build(tmp)
    if config is None:
        config = tmp / "hostile.yaml"
        config.write_text(yaml.safe_dump(fast_config_dict(tmp / "state")), encoding="utf-8")
    command = [*rag_command(), "ingest", "-c", str(config), "--json", str(corpus.root)]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, timeout=3600)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        sys.exit(f"rag ingest exited {done.returncode}:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    return {
        "command": shlex.join(command),
        "seconds": round(seconds, 3),
        "report_s": round(report["seconds"], 3),
        "exit_status": done.returncode,
        "files_seen": report["files_seen"],
        "files_ingested": report["files_new"] + report["files_changed"],
        "files_failed": report["files_failed"],
        "files_skipped": len(corpus.names("ignored")) + len(corpus.skipped),
        "chunks": report["chunks_added"],
        "not_built_here": corpus.skipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="pipeline YAML (default: hashing embedder + memory store)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh corpus and index each time")
    parser.add_argument("--json-out", type=Path, help="also write the figures here")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="rag-hostile-") as tmp:
            runs.append(one_run(Path(tmp).resolve(), args.config.resolve() if args.config else None))
    last = runs[-1]
    times = [r["seconds"] for r in runs]
    print(f"command:  {last['command']}  (in a fresh temporary folder each run)")
    print(f"machine:  {machine()}")
    print(
        f"seconds:  {statistics.median(times):.2f} median of {len(times)} ({', '.join(f'{t:.2f}' for t in times)}); "
        f"ingest's own {last['report_s']:.2f}"
    )
    print(
        f"files:    {last['files_seen']} seen, {last['files_ingested']} ingested, {last['files_failed']} failed, "
        f"{last['files_skipped']} skipped (no loader, or not built on this machine: {last['not_built_here']})"
    )
    print(f"chunks:   {last['chunks']}; exit status {last['exit_status']}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
