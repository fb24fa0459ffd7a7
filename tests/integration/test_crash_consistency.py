"""kill -9 at every commit point of a re-ingest, then compare with a clean ingest.

A real ``rag ingest`` subprocess re-ingests an edited corpus (files changed in
place with the same chunk ids, one shrunk, one deleted, one added) and kills
itself with SIGKILL at a chosen commit point (``RAG_TEST_CRASH_AT``). Then:

* opening the collection for a query already gives BM25 hits that match what
  the store holds (some cases);
* a second, uninterrupted ``rag ingest`` leaves exactly what a clean ingest of
  the edited corpus leaves: the same chunk ids, the same texts, the same
  manifest hashes, the same BM25 hits (so no word that left the files matches).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag_app.backends.retrievers.bm25 import BM25Retriever
from rag_app.config import load_config
from rag_app.ingest.crashpoints import ENV
from rag_app.ingest.manifest import Manifest
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.protocols import Retriever

NATO = ["alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
QUERIES = [f"{age}{word}" for word in NATO for age in ("old", "new")] + ["chapter", "records"]
RAG = [sys.executable, "-c", "from rag_app.cli import run; run()"]


def _text(i: int, age: str, paragraphs: int = 3) -> str:
    marker = f"{age}{NATO[i]}"
    body = " ".join(f"The {marker} system stores records number {k}." for k in range(8))
    return "\n\n".join(f"Chapter {n} of file {NATO[i]}. {body}" for n in range(paragraphs)) + "\n"


def write_corpus(root: Path, version: int) -> None:
    """v1: files 0-6 with "old" markers. v2: 0-2 edited in place, 3 shrunk, 5 deleted, 7 added.

    v3: only 0-2 edited in place (same chunk ids, so the store's count never changes).
    """
    root.mkdir(parents=True, exist_ok=True)
    for path in root.glob("*.txt"):
        path.unlink()
    texts = {i: _text(i, "old") for i in range(7)}
    if version in (2, 3):
        texts.update({i: _text(i, "new") for i in (0, 1, 2)})
    if version == 2:
        texts[3] = _text(3, "new", paragraphs=1)
        del texts[5]
        texts[7] = _text(7, "new")
    for i, text in texts.items():
        (root / f"f{i}-{NATO[i]}.txt").write_text(text, encoding="utf-8")


def config(root: Path, name: str, store: dict[str, Any]) -> Path:
    data = {
        "name": name,
        "chunker": {"type": "recursive", "params": {"chunk_size": 40, "chunk_overlap": 0}},
        "embedder": {"type": "hashing", "params": {"dimension": 64}},
        "store": store,
        "retrieval": {"retrievers": [{"type": "dense"}, {"type": "bm25"}], "candidates": 50},
        "ingest": {"state_dir": f"{name}/state", "batch_size": 4},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def rag_ingest(cfg: Path, docs: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash_at:
        env[ENV] = crash_at
    return subprocess.run(
        [*RAG, "ingest", "-c", str(cfg), str(docs), "--json"],
        cwd=cfg.parent, env=env, capture_output=True, text=True, timeout=300,
    )


@dataclass
class Snapshot:
    chunks: dict[str, str]
    hashes: dict[str, str]
    bm25: dict[str, list[str]]


def _bm25(pipeline: Pipeline) -> Retriever:
    return next(r for r in pipeline.retrievers if r.name == "bm25")


def snapshot(cfg: Path) -> Snapshot:
    """What the collection holds, as a fresh process sees it (opening it for a query first)."""
    pipeline = build_pipeline(load_config(cfg))
    try:
        pipeline.search("chapter")
        chunks = {c.chunk_id: c.text for batch, _ in pipeline.store.export() for c in batch}
        bm25 = _bm25(pipeline)
        hits = {q: [h.chunk.chunk_id for h in bm25.retrieve(q, depth=100)] for q in QUERIES}
        manifest = Manifest.load(pipeline.manifest_path())
        return Snapshot(chunks, {s: e.content_hash for s, e in manifest.sources.items()}, hits)
    finally:
        pipeline.close()


def bm25_matches_store(cfg: Path) -> None:
    """Opened for a query, the BM25 index answers exactly as one built from the store's chunks."""
    pipeline = build_pipeline(load_config(cfg))
    try:
        pipeline.search("chapter")
        fresh = BM25Retriever(BM25Retriever.Params())
        for batch, _ in pipeline.store.export():
            fresh.on_upsert(batch)
        fresh.commit()
        index = _bm25(pipeline)
        for q in QUERIES:
            got = [(h.chunk.chunk_id, h.chunk.text) for h in index.retrieve(q, depth=100)]
            assert got == [(h.chunk.chunk_id, h.chunk.text) for h in fresh.retrieve(q, depth=100)], q
    finally:
        pipeline.close()


@dataclass
class Bench:
    root: Path
    docs: Path
    crash_cfg: Path
    reference: Snapshot

    def restore_v1(self) -> None:
        work = self.root / "crash"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(self.root / "template", work)


def make_bench(root: Path, store_for: Any, version: int = 2) -> Bench:
    docs = root / "docs"
    write_corpus(docs, 1)
    crash_cfg = config(root, "crash", store_for("crash"))
    first = rag_ingest(crash_cfg, docs)
    assert first.returncode == 0, first.stderr
    shutil.copytree(root / "crash", root / "template")
    write_corpus(docs, version)
    ref_cfg = config(root, "ref", store_for("ref"))
    clean = rag_ingest(ref_cfg, docs)
    assert clean.returncode == 0, clean.stderr
    reference = snapshot(ref_cfg)
    changed = (0, 1, 2, 3, 5, 7) if version == 2 else (0, 1, 2)
    assert not any(reference.bm25[f"old{NATO[i]}"] for i in changed)  # the test can see staleness
    assert all(reference.bm25[f"new{NATO[i]}"] for i in changed if i != 5)
    return Bench(root, docs, crash_cfg, reference)


# (commit point, check the query path before re-ingesting). With this corpus and batch size the
# v2 run writes 4 batches (files 0, 1, 2, then 3+7 with the shrunk file's stale deletes) and one
# prune (delete + manifest save), then commits BM25; each case asserts the process died there.
CASES = [
    ("journal:2", False),
    ("upsert:1", True),
    ("upsert:4", False),
    ("delete:1", False),
    ("delete:2", True),
    ("manifest_save:1", False),
    ("manifest_save:4", False),
    ("manifest_save:5", False),
    ("manifest_save:5", True),
    ("index_commit:1", False),
]


def run_case(bench: Bench, point: str, query_first: bool) -> None:
    bench.restore_v1()
    crashed = rag_ingest(bench.crash_cfg, bench.docs, crash_at=point)
    assert crashed.returncode == -9, f"{point} was not reached (rc {crashed.returncode}): {crashed.stderr[-500:]}"
    if query_first:
        bm25_matches_store(bench.crash_cfg)
    again = rag_ingest(bench.crash_cfg, bench.docs)
    assert again.returncode == 0, again.stderr
    got = snapshot(bench.crash_cfg)
    assert sorted(got.chunks) == sorted(bench.reference.chunks)
    assert got.chunks == bench.reference.chunks
    assert got.hashes == bench.reference.hashes
    assert got.bm25 == bench.reference.bm25


def memory_store(name: str) -> dict[str, Any]:
    return {"type": "memory", "params": {"path": f"{name}/store"}}


def milvus_store(name: str) -> dict[str, Any]:
    return {"type": "milvus", "params": {"uri": f"{name}/lite.db", "collection": "docs"}}


@pytest.fixture(scope="module")
def memory_bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return make_bench(tmp_path_factory.mktemp("crash-memory"), memory_store)


@pytest.mark.parametrize(("point", "query_first"), CASES)
def test_memory_store_survives_kill(memory_bench: Bench, point: str, query_first: bool) -> None:
    run_case(memory_bench, point, query_first)


@pytest.mark.parametrize("query_first", [False, True])
def test_memory_store_in_place_edits_killed_after_the_last_manifest_save(
    tmp_path: Path, query_first: bool
) -> None:
    """The reported case: same chunk count before and after, killed before BM25 was committed."""
    run_case(make_bench(tmp_path, memory_store, version=3), "manifest_save:3", query_first)


@pytest.mark.parametrize("point", ["upsert:1", "upsert:4"])
def test_memory_store_crash_then_revert_leaves_no_orphans(tmp_path: Path, point: str) -> None:
    """Killed after upserting v2 chunks; the files go back to v1: the store must hold v1 exactly.

    Without the journal the manifest still says "v1" for those files, so the re-ingest skips
    them and the v2 texts (same ids) and the new file's chunks would stay in the store.
    """
    bench = make_bench(tmp_path, memory_store)
    bench.restore_v1()
    before = snapshot(bench.crash_cfg)
    assert rag_ingest(bench.crash_cfg, bench.docs, crash_at=point).returncode == -9
    write_corpus(bench.docs, 1)
    again = rag_ingest(bench.crash_cfg, bench.docs)
    assert again.returncode == 0, again.stderr
    after = snapshot(bench.crash_cfg)
    assert after.chunks == before.chunks
    assert after.hashes == before.hashes
    assert after.bm25 == before.bm25


@pytest.fixture(scope="module")
def milvus_bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    pytest.importorskip("pymilvus", reason="pip install 'rag-app[milvus]'")
    return make_bench(tmp_path_factory.mktemp("crash-milvus"), milvus_store)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "query_first"), CASES)
def test_milvus_lite_survives_kill(milvus_bench: Bench, point: str, query_first: bool) -> None:
    run_case(milvus_bench, point, query_first)


@pytest.mark.slow
def test_milvus_lite_in_place_edits_killed_after_the_last_manifest_save(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus", reason="pip install 'rag-app[milvus]'")
    run_case(make_bench(tmp_path, milvus_store, version=3), "manifest_save:3", False)
