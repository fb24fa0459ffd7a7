"""The embedded Milvus default at 100k-1M chunks: rag_app's MilvusStore vs exact search, in one run.

For each size the script writes synthetic chunks into a fresh Milvus Lite file
through ``MilvusStore`` (which keeps its FAISS fast index in sync), then times,
one query at a time, on the same vectors and queries:

* exact search with numpy (``matrix @ q``) and with FAISS ``IndexFlatIP``;
* ``MilvusStore.search`` (fast index + rows fetched by primary key), plain and
  filtered (``doc_id ==``, ``source ==``, a metadata key ``==``, a metadata range);
* Milvus Lite's own search on the same collection (what the store did before), on fewer queries;
* recall@10 of the store against exact search, plain and filtered;
* reopen: a new store instance, open + first search (the index read from disk);
* at the first size, ``Pipeline.search`` on ``pipelines/local.yaml``'s hybrid
  retrieval (MiniLM query embedding + dense + BM25 + weighted fusion + fetch),
  after the pipeline rebuilt its BM25 and fast indexes from the store.

Vectors are synthetic but shaped like sentence embeddings (a 48-dimensional
clustered latent space projected to 384 dimensions, plus noise, normalised);
queries are perturbed chunk vectors. Uniform random vectors would understate
HNSW recall (they have no neighbourhood structure); real embeddings are between.

Run::

    make bench-store                     # 100k
    python eval/benchmarks/store_scale.py --sizes 100000 1000000 --queries 200
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

DIM, LATENT, CLUSTERS = 384, 48, 1000
WORDS = [f"w{i}" for i in range(5000)]


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chunk vectors, projection, latent codes) shaped like normalised sentence embeddings."""
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((LATENT, DIM)).astype(np.float32)
    centres = rng.standard_normal((CLUSTERS, LATENT)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    codes = np.empty((n, LATENT), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        z = centres[rng.integers(0, CLUSTERS, m)] + 0.5 * rng.standard_normal((m, LATENT)).astype(np.float32)
        x = z @ proj + 0.5 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        codes[start : start + m] = z
    return out, proj, codes


def queries(codes: np.ndarray, proj: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    z = codes[rng.integers(0, len(codes), count)] + 0.3 * rng.standard_normal((count, LATENT)).astype(np.float32)
    q = z @ proj + 0.5 * rng.standard_normal((count, DIM)).astype(np.float32)
    normed: np.ndarray = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return normed


def chunks_for(start: int, stop: int, rng: np.random.Generator) -> list[Any]:
    from rag_app.types import Chunk

    out = []
    for i in range(start, stop):
        doc = i // 10
        text = " ".join(rng.choice(WORDS, 40))
        meta = {"lang": ("en", "de", "fr", "es", "it")[doc % 5], "year": 2000 + doc % 25, "chunk_index": i % 10}
        out.append(Chunk(f"d{doc}:{i % 10}", f"d{doc}", f"docs/file{doc}.md", text, meta))
    return out


def p95(fn: Callable[[int], object], count: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of ``fn(i)`` for ``i`` in ``range(count)`` (one warm-up call first)."""
    fn(0)
    times = []
    for i in range(count):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def exact_ids(
    matrix: np.ndarray, ids: Sequence[str], q: np.ndarray, k: int, mask: np.ndarray | None = None
) -> set[str]:
    scores = matrix @ q
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k)[:k]
    return {ids[i] for i in top if np.isfinite(scores[i])}


def run_size(n: int, count: int, tmp: Path, with_pipeline: bool) -> dict[str, float]:
    import faiss

    from rag_app.config import load_config, parse_config
    from rag_app.pipeline import build_pipeline
    from rag_app.types import Filter

    out: dict[str, float] = {"chunks": float(n)}
    vectors, proj, codes = synthetic(n, seed=n)
    qs = queries(codes, proj, count, seed=n)
    rng = np.random.default_rng(7)
    ids = [f"d{i // 10}:{i % 10}" for i in range(n)]

    base = load_config(REPO / "pipelines" / "local.yaml")
    data: dict[str, Any] = base.model_dump(exclude={"base_dir"})
    data["store"]["params"]["uri"] = str(tmp / f"scale{n}.db")
    data["ingest"]["state_dir"] = str(tmp / f"state{n}")
    data["generator"] = None
    pipeline = build_pipeline(parse_config(data, base_dir=base.base_dir))
    store: Any = pipeline.store
    fingerprint = pipeline.fingerprint()
    store.open(DIM, fingerprint)

    t0 = time.perf_counter()
    step = 8192
    for start in range(0, n, step):
        stop = min(n, start + step)
        store.upsert(chunks_for(start, stop, rng), vectors[start:stop])
    t1 = time.perf_counter()
    store.index_listener.commit(0)  # flush + persist, as an ingest run ends
    out["write_s"], out["commit_s"] = t1 - t0, time.perf_counter() - t1
    out["kind_hnsw"] = float(store.index_listener.kind == "hnsw")

    out["numpy_p50"], out["numpy_p95"] = p95(lambda i: np.argpartition(-(vectors @ qs[i]), 10)[:10], count)
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    out["faissflat_p50"], out["faissflat_p95"] = p95(lambda i: flat.search(qs[i : i + 1], 10), count)
    flat.reset()

    hits: list[set[str]] = []
    out["dense_p50"], out["dense_p95"] = p95(lambda i: store.search(qs[i].tolist(), 10), count)
    for i in range(count):
        hits.append({h.chunk.chunk_id for h in store.search(qs[i].tolist(), 10)})
    out["recall"] = float(np.mean([len(hits[i] & exact_ids(vectors, ids, qs[i], 10)) / 10 for i in range(count)]))

    docs = n // 10
    cases: dict[str, Callable[[int], list[Filter]]] = {
        "doc": lambda i: [Filter("doc_id", "eq", f"d{(i * 7919) % docs}")],
        "source": lambda i: [Filter("source", "eq", f"docs/file{(i * 104729) % docs}.md")],
        "meta": lambda i: [Filter("lang", "eq", ("en", "de", "fr", "es", "it")[i % 5])],
        "range": lambda i: [Filter("year", "gte", 2000 + i % 20)],
    }
    doc_ids = np.arange(n) // 10
    for name, make in cases.items():
        out[f"{name}_p50"], out[f"{name}_p95"] = p95(lambda i, make=make: store.search(qs[i].tolist(), 10, make(i)),
                                                     count)
    recalls = []
    for i in range(min(count, 50)):
        lang = i % 5
        mask = (doc_ids % 5) == lang
        got = {h.chunk.chunk_id for h in store.search(qs[i].tolist(), 10, cases["meta"](i))}
        recalls.append(len(got & exact_ids(vectors, ids, qs[i], 10, mask)) / 10)
    out["filtered_recall"] = float(np.mean(recalls))

    lite_q = min(count, 20)
    params = {"metric_type": "COSINE", "params": {}}
    out["lite_p50"], out["lite_p95"] = p95(lambda i: store._ranked("vector", qs[i].tolist(), params, "", 10), lite_q)
    out["lite_src_p50"], out["lite_src_p95"] = p95(
        lambda i: store._ranked("vector", qs[i].tolist(), params, f'source == "docs/file{i}.md"', 10), lite_q)

    store.close()
    t = time.perf_counter()
    reopened: Any = build_pipeline(parse_config(data, base_dir=base.base_dir)).store
    reopened.open(DIM, fingerprint)
    reopened.search(qs[0].tolist(), 10)
    out["reopen_s"] = time.perf_counter() - t
    out["reopen_p95"] = p95(lambda i: reopened.search(qs[i].tolist(), 10), count)[1]
    reopened.close()

    if with_pipeline:
        t = time.perf_counter()
        texts = [" ".join(rng.choice(WORDS, 6)) for _ in range(count)]
        pipeline.search(texts[0])  # opens the store, checks the indexes (BM25 is built here)
        out["pipeline_open_s"] = time.perf_counter() - t
        out["pipeline_p50"], out["pipeline_p95"] = p95(lambda i: pipeline.search(texts[i]), count)
        pipeline.close()
    out["maxrss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


ROWS = [
    ("write_s", "write: Milvus upsert + fast index (s)"), ("commit_s", "commit: flush + persist (s)"),
    ("numpy_p95", "exact numpy, p95 ms"), ("faissflat_p95", "exact FAISS IndexFlatIP, p95 ms"),
    ("lite_p95", "Milvus Lite's own search, p95 ms"), ("lite_src_p95", "Milvus Lite, source ==, p95 ms"),
    ("dense_p50", "MilvusStore.search p50 ms"), ("dense_p95", "MilvusStore.search p95 ms"),
    ("recall", "recall@10 vs exact"),
    ("doc_p95", "filtered doc_id ==, p95 ms"), ("source_p95", "filtered source ==, p95 ms"),
    ("meta_p95", "filtered lang == (20%), p95 ms"), ("range_p95", "filtered year >= (range), p95 ms"),
    ("filtered_recall", "filtered recall@10 vs exact"),
    ("reopen_s", "reopen: open + first search (s)"), ("reopen_p95", "after reopen, p95 ms"),
    ("pipeline_open_s", "Pipeline first search: index sync (s)"),
    ("pipeline_p50", "Pipeline.search hybrid p50 ms"), ("pipeline_p95", "Pipeline.search hybrid p95 ms"),
    ("maxrss_gib", "peak RSS of the process (GiB)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-pipeline", action="store_true",
                        help="skip the end-to-end Pipeline.search rows (measured on the first size otherwise)")
    parser.add_argument("--dir", type=Path, default=None, help="where the .db files go (default: a temp dir)")
    args = parser.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    try:
        from rag_app.backends.stores.milvus import lite_server as _lite_server

        mode = "a shared milvus-lite server process" if _lite_server.shared() else "in-process"
    except ImportError:
        mode = "in-process"
    print(f"Milvus Lite opened {mode} (RAG_MILVUS_LITE_SERVER={os.environ.get('RAG_MILVUS_LITE_SERVER', '')!r})")
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n, size in enumerate(args.sizes):
            results.append(run_size(size, args.queries, Path(tmp), with_pipeline=n == 0 and not args.no_pipeline))
            print(f"{size} chunks done (load {os.getloadavg()[0]:.2f})", flush=True)
    header = " | ".join(f"{int(r['chunks']):,} chunks" for r in results)
    print(f"| measure | {header} |")
    print(f"|---|{'---:|' * len(results)}")
    for key, label in ROWS:
        cells = [f"{r[key]:.3f}" if key in r and r[key] < 10 else (f"{r[key]:.1f}" if key in r else "—")
                 for r in results]
        print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
