"""The Milvus Lite fast index (FAISS) stays in sync with the collection.

Ingest, re-ingest with edits and prune, delete a document, drift, kill -9 at
the commit points, another process ingesting: after each, dense search
through the fast index returns exactly what exact search over the store's
own rows returns, and the index is reloaded (not rebuilt) when it can be.
The HNSW path is checked against exact search on a small index
(``hnsw_from`` lowered), without Milvus.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag_app.backends.stores.milvus.fast_index import FastIndex
from rag_app.config import load_config
from rag_app.ingest.crashpoints import ENV
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Chunk, Filter
from tests.integration.test_crash_consistency import config, write_corpus

pytest.importorskip("pymilvus")
pytest.importorskip("faiss")
pytestmark = pytest.mark.slow

INGEST = (
    "import sys\nfrom rag_app.config import load_config\nfrom rag_app.pipeline import build_pipeline\n"
    "p = build_pipeline(load_config(sys.argv[1]))\np.ingest([sys.argv[2]])\np.close()\n"
)
QUERIES = ["oldalfa records", "newbravo chapter", "oldhotel system", "newhotel stores", "chapter 2 of file delta"]
REBUILT = "rebuilding the FastIndex index"


def ingest_elsewhere(cfg: Path, docs: Path, crash_at: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash_at:
        env[ENV] = crash_at
    done = subprocess.run([sys.executable, "-c", INGEST, str(cfg), str(docs)], cwd=cfg.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    return done.returncode


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    write_corpus(docs, 1)
    cfg = config(tmp_path, "fast", {"type": "milvus", "params": {"uri": "fast/x.db", "collection": "c"}})
    return cfg, docs


def exact(pipeline: Pipeline, query: str, k: int, doc_id: str | None = None) -> dict[str, float]:
    """Exact cosine scores over what the store exports (``doc_id``: only that document's chunks)."""
    ids, vectors = [], []
    for chunks, vecs in pipeline.store.export():
        for chunk, vec in zip(chunks, vecs, strict=True):
            if doc_id is None or chunk.doc_id == doc_id:
                ids.append(chunk.chunk_id)
                vectors.append(vec)
    matrix = np.asarray(vectors, dtype=np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    q = np.asarray(pipeline.embedder.embed_query(query), dtype=np.float64)
    return dict(zip(ids, (matrix @ (q / np.linalg.norm(q))).tolist(), strict=True))


def assert_exact(hits: list[Any], scores: dict[str, float], k: int) -> None:
    """``hits`` are an exact top-k: the best k scores, each hit's own score, ties in any order only at 1e-5."""
    best = sorted(scores.values(), reverse=True)[:k]
    assert [h.score for h in hits] == pytest.approx(best, abs=1e-5)
    for hit in hits:
        assert scores[hit.chunk.chunk_id] == pytest.approx(hit.score, abs=1e-5)


def assert_in_sync(cfg: Path) -> dict[str, Any]:
    """A fresh pipeline's fast index holds the store's chunks and answers like exact search."""
    pipeline = build_pipeline(load_config(cfg))
    try:
        pipeline.search("chapter")  # opens the store and checks every secondary index
        fast = pipeline.store.index_listener  # type: ignore[attr-defined]
        stored = {c.chunk_id for chunks, _ in pipeline.store.export() for c in chunks}
        assert fast.size() == len(stored) == pipeline.store.count()
        for query in QUERIES:
            assert_exact(pipeline.store.search(pipeline.embedder.embed_query(query), 8), exact(pipeline, query, 8), 8)
        doc_id = next(iter(pipeline.store.search(pipeline.embedder.embed_query("records"), 1))).chunk.doc_id
        flt = [Filter("doc_id", "eq", doc_id)]
        hits = pipeline.store.search(pipeline.embedder.embed_query("records"), 5, flt)
        assert {h.chunk.doc_id for h in hits} == {doc_id}
        assert_exact(hits, exact(pipeline, "records", 5, doc_id), 5)
        return {"ids": stored, "generation": fast.generation()}
    finally:
        pipeline.close()


def test_upsert_prune_delete_keep_it_in_sync_without_rebuilds(
    setup: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    cfg, docs = setup
    pipeline = build_pipeline(load_config(cfg))
    with caplog.at_level(logging.INFO):
        pipeline.ingest([docs])
        write_corpus(docs, 2)  # edits in place, one file shrunk, one deleted, one added
        pipeline.ingest([docs], prune=True)
        assert any("newhotel" in h.chunk.text for h in pipeline.search("newhotel stores records", top_k=3))
        source = next(s for s in (d["source"] for d in pipeline.documents()) if "golf" in s)
        pipeline.delete_document(source)
        pipeline.close()
        state = assert_in_sync(cfg)
    assert not any("golf" in cid for cid in state["ids"]) and state["generation"] is not None
    assert REBUILT not in caplog.text


def test_drift_is_rebuilt_from_the_store(setup: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    cfg, docs = setup
    assert ingest_elsewhere(cfg, docs) == 0
    current = next((cfg.parent / "fast").glob("x.db.fast/c/CURRENT"))
    header = json.loads(current.read_text())
    current.write_text(json.dumps({**header, "generation": 999}))  # stamped for another manifest
    with caplog.at_level(logging.INFO):
        assert_in_sync(cfg)
    assert REBUILT in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert_in_sync(cfg)  # the rebuilt index was committed: trusted now
    assert REBUILT not in caplog.text


@pytest.mark.parametrize("point", ["upsert", "manifest_save", "index_commit"])
def test_kill_9_mid_ingest_then_reopen(setup: tuple[Path, Path], point: str) -> None:
    cfg, docs = setup
    assert ingest_elsewhere(cfg, docs) == 0
    write_corpus(docs, 2)
    assert ingest_elsewhere(cfg, docs, crash_at=f"{point}:2" if point == "upsert" else point) == -9
    assert_in_sync(cfg)  # what the store holds after the kill, nothing more or less
    assert ingest_elsewhere(cfg, docs) == 0
    assert_in_sync(cfg)


def test_another_process_ingesting_is_seen_by_reloading(
    setup: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    cfg, docs = setup
    reader = build_pipeline(load_config(cfg))
    reader.ingest([docs])
    before = reader.search("newhotel stores records", top_k=3)
    assert not any("newhotel" in h.chunk.text for h in before)
    reader.close()  # one process holds a Lite file at a time; the in-memory fast index stays
    write_corpus(docs, 2)
    assert ingest_elsewhere(cfg, docs) == 0
    with caplog.at_level(logging.INFO):
        after = reader.search("newhotel stores records", top_k=3)
    reader.close()
    assert any("newhotel" in h.chunk.text for h in after)
    assert "changed on disk; reloading" in caplog.text and REBUILT not in caplog.text


def test_a_concurrent_reader_reloads_what_another_process_committed(
    setup: tuple[Path, Path], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes on one Lite file need the shared server (the suite's default is in-process).
    monkeypatch.setenv("RAG_MILVUS_LITE_SERVER", "shared")
    monkeypatch.setenv("RAG_MILVUS_LITE_IDLE_S", "2")
    cfg, docs = setup
    reader = build_pipeline(load_config(cfg))
    try:
        reader.ingest([docs])
        query = reader.embedder.embed_query("newhotel stores records")
        assert not any("newhotel" in h.chunk.text for h in reader.store.search(query, 3))
        write_corpus(docs, 2)
        assert ingest_elsewhere(cfg, docs) == 0  # while the reader holds the collection open
        with caplog.at_level(logging.INFO):
            hits = reader.store.search(query, 3)  # the next query stats the index and reloads it
        assert any("newhotel" in h.chunk.text for h in hits)
        assert "changed on disk; reloading" in caplog.text and REBUILT not in caplog.text
    finally:
        reader.close()


def test_hnsw_slots_deletes_filters_and_reload_match_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    dim, n = 16, 600
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    chunks = [Chunk(f"c{i:04d}", f"d{i // 10}", f"s{i % 7}.md", "t", {"year": 2000 + i % 9}) for i in range(n)]
    index = FastIndex(tmp_path / "fi", "COSINE", hnsw_from=200)
    index.bind(dim)
    index.add(chunks[:300], vectors[:300])
    index.add(chunks[300:], vectors[300:])
    assert index.kind == "hnsw"
    index.add(chunks[:50], vectors[50:100])  # re-upsert: old slots retired
    index.remove([f"c{i:04d}" for i in range(100, 160)])
    index.remove([f"c{i:04d}" for i in range(200, 220)])  # documents d20 and d21
    truth = {c.chunk_id: vectors[i] for i, c in enumerate(chunks)}
    for i in range(50):
        truth[f"c{i:04d}"] = vectors[50 + i]
    for i in [*range(100, 160), *range(200, 220)]:
        truth.pop(f"c{i:04d}")

    def exact_ids(q: np.ndarray, k: int, keep: Any = lambda cid: True) -> list[str]:
        ids = sorted(cid for cid in truth if keep(cid))
        m = np.asarray([truth[c] / np.linalg.norm(truth[c]) for c in ids])
        s = m @ (q / np.linalg.norm(q))
        return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-s[i], ids[i]))[:k]]

    def check(ix: FastIndex) -> None:
        assert ix.size() == len(truth)
        for q in rng.standard_normal((20, dim)).astype(np.float32):
            assert [c for c, _ in ix.search(q, 10)] == exact_ids(q, 10)
            year = [Filter("year", "gte", 2006)]
            got = [c for c, _ in ix.search(q, 5, year)]
            assert got == exact_ids(q, 5, lambda cid: 2000 + int(cid[1:]) % 9 >= 2006)

    check(index)
    index.commit(7)
    reopened = FastIndex(tmp_path / "fi", "COSINE", hnsw_from=200)
    reopened.bind(dim)
    assert reopened.generation() == 7 and reopened.kind == "hnsw"
    check(reopened)


def test_large_collections_search_wider(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    dim = 8
    index = FastIndex(tmp_path / "fi", "COSINE", hnsw_from=50, wide_from=120)
    index.bind(dim)
    chunks = [Chunk(f"c{i:04d}", f"d{i}", "s.md", "t", {}) for i in range(150)]
    index.add(chunks[:100], rng.standard_normal((100, dim)).astype(np.float32))
    assert index.ef_search == 128
    index.add(chunks[100:], rng.standard_normal((50, dim)).astype(np.float32))
    assert index.ef_search == 256
    index.remove([c.chunk_id for c in chunks[:40]])  # live vectors, not slots, decide
    assert index.ef_search == 128
