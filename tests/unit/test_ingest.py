"""Incremental ingestion on the fast pipeline: manifest, pruning, errors, fingerprints."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.config import PipelineConfig
from rag_app.errors import FingerprintMismatchError, InputError
from rag_app.ingest.manifest import Manifest
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.protocols import Loader

MakeConfig = Callable[..., PipelineConfig]


def test_first_ingest_then_unchanged_reingest_embeds_nothing(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    first = pipeline.ingest([docs_dir])
    assert (first.files_seen, first.files_new, first.files_failed) == (3, 3, 0)
    assert first.chunks_added == pipeline.store.count() > 0
    assert first.embeddings_computed == first.chunks_added
    second = pipeline.ingest([docs_dir])
    assert (second.files_unchanged, second.embeddings_computed, second.chunks_added) == (3, 0, 0)
    assert pipeline.store.count() == first.chunks_added


def test_changed_file_replaces_only_its_chunks(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    long_text = "# LoRA\n\n" + " ".join(f"Sentence {i} about low-rank adapters." for i in range(60))
    (docs_dir / "lora.md").write_text(long_text, encoding="utf-8")
    report = pipeline.ingest([docs_dir])
    assert (report.files_changed, report.files_unchanged, report.files_new) == (1, 2, 0)
    lora_hits = pipeline.search("low-rank adapters sentence", top_k=50)
    lora_chunks = {h.chunk.chunk_id for h in lora_hits if h.chunk.source.endswith("lora.md")}
    assert len(lora_chunks) == report.chunks_added > 1
    # shrink it again: the surplus chunks must be deleted, not orphaned
    (docs_dir / "lora.md").write_text("# LoRA\n\nShort now.\n", encoding="utf-8")
    before = pipeline.store.count()
    shrink = pipeline.ingest([docs_dir])
    assert shrink.chunks_removed == len(lora_chunks) - 1
    assert pipeline.store.count() == before - shrink.chunks_removed


def test_deleted_file_is_pruned(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    before = pipeline.store.count()
    (docs_dir / "notes" / "bm25.txt").unlink()
    report = pipeline.ingest([docs_dir])
    assert report.files_removed == 1 and report.chunks_removed >= 1
    assert pipeline.store.count() == before - report.chunks_removed
    assert all("bm25" not in h.chunk.source for h in pipeline.search("BM25 term frequency", top_k=10))


def test_no_prune_keeps_deleted_files(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    before = pipeline.store.count()
    (docs_dir / "notes" / "bm25.txt").unlink()
    assert pipeline.ingest([docs_dir], prune=False).files_removed == 0
    assert pipeline.store.count() == before


def test_pruning_is_scoped_to_the_given_roots(make_config: MakeConfig, docs_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("A separate collection of notes about gradient descent.", encoding="utf-8")
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    report = pipeline.ingest([other])
    assert report.files_removed == 0
    assert len(pipeline.documents()) == 4


def test_bad_file_is_reported_and_the_rest_lands(make_config: MakeConfig, docs_dir: Path) -> None:
    (docs_dir / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage that is not a pdf")
    (docs_dir / "empty.txt").write_bytes(b"")
    pipeline = build_pipeline(make_config())
    report = pipeline.ingest([docs_dir])
    assert report.files_failed == 2 and report.files_new == 3
    failed = {Path(e["source"]).name for e in report.errors}
    assert failed == {"broken.pdf", "empty.txt"}
    assert all(e["error"] and "\n" not in e["error"] for e in report.errors)


def test_include_exclude_globs(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config(sources={"include": ["**/*.md"], "exclude": ["lora.md"]}))
    report = pipeline.ingest([docs_dir])
    assert [Path(d["source"]).name for d in pipeline.documents()] == ["attention.md"]
    assert report.files_seen == 1


def test_manifest_records_hashes_and_chunk_ids(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    manifest = Manifest.load(pipeline.manifest_path())
    assert len(manifest.sources) == 3
    entry = manifest.sources[(docs_dir / "attention.md").resolve().as_posix()]
    assert len(entry.content_hash) == 64 and entry.chunk_ids and entry.title == "Attention"
    assert manifest.fingerprint["embedder"] == "hashing-128"
    raw = json.loads(pipeline.manifest_path().read_text())
    assert raw["version"] == 1


def test_touching_a_file_without_changing_it_embeds_nothing(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    os.utime(docs_dir / "attention.md", (1, 1))
    assert pipeline.ingest([docs_dir]).embeddings_computed == 0


def test_different_embedder_against_existing_collection_fails(make_config: MakeConfig, docs_dir: Path) -> None:
    build_pipeline(make_config()).ingest([docs_dir])
    other = build_pipeline(make_config(embedder={"type": "hashing", "params": {"dimension": 64}}))
    with pytest.raises(FingerprintMismatchError, match="hashing-128.*hashing-64|hashing-64.*hashing-128"):
        other.search("attention")
    with pytest.raises(FingerprintMismatchError):
        other.ingest([docs_dir])


def test_rebuild_starts_from_scratch(make_config: MakeConfig, docs_dir: Path) -> None:
    build_pipeline(make_config()).ingest([docs_dir])
    other = build_pipeline(make_config(embedder={"type": "hashing", "params": {"dimension": 64}}))
    report = other.ingest([docs_dir], rebuild=True)
    assert report.files_new == 3
    assert other.search("attention quadratic", top_k=1)[0].chunk.source.endswith("attention.md")


def test_search_before_ingest_and_empty_query(make_config: MakeConfig) -> None:
    pipeline = build_pipeline(make_config())
    with pytest.raises(InputError, match="nothing has been ingested"):
        pipeline.search("anything")
    with pytest.raises(InputError, match="query is empty"):
        pipeline.search("   ")


def test_missing_path_is_a_clear_error(make_config: MakeConfig, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        build_pipeline(make_config()).ingest([tmp_path / "nope"])


def test_chunks_carry_source_location(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    hit = pipeline.search("quadratically sequence length", top_k=1)[0]
    meta = hit.chunk.metadata
    assert hit.chunk.source.endswith("attention.md")
    assert meta["relpath"] == "attention.md" and meta["format"] == "md"
    assert isinstance(meta["start_char"], int) and meta["end_char"] > meta["start_char"]


def test_delete_document_removes_its_chunks_and_manifest_entry(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    before = pipeline.store.count()
    source = (docs_dir / "lora.md").resolve().as_posix()
    removed = pipeline.delete_document(source)
    assert removed >= 1 and pipeline.store.count() == before - removed
    assert source not in {d["source"] for d in pipeline.documents()}
    with pytest.raises(InputError, match="not in this collection"):
        pipeline.delete_document(source)


def test_collection_is_verified_once_per_change_not_per_query(
    make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = build_pipeline(make_config())
    pipeline.ingest([docs_dir])
    calls: list[int] = []
    original = pipeline.store.fingerprint
    monkeypatch.setattr(pipeline.store, "fingerprint", lambda: calls.append(1) or original())
    pipeline.search("attention")
    pipeline.search("lora")
    assert len(calls) == 1
    (docs_dir / "new.md").write_text("# New\n\nA fresh note about dropout.\n", encoding="utf-8")
    pipeline.ingest([docs_dir])
    calls.clear()
    assert pipeline.search("dropout", top_k=1)[0].chunk.source.endswith("new.md")
    assert len(calls) == 1


def _count_loads(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, on_load: Callable[[int], None]) -> None:
    """Call ``on_load(n)`` after the pipeline's loaders have loaded their n-th file."""
    real_loader_for = pipeline._loader_for
    loads = [0]

    class Counting:
        def __init__(self, inner: Loader) -> None:
            self.inner = inner

        def load(self, path: Path, **kwargs: str) -> object:
            docs = self.inner.load(path, **kwargs)
            loads[0] += 1
            on_load(loads[0])
            return docs

    monkeypatch.setattr(pipeline, "_loader_for", lambda suffix: Counting(real_loader_for(suffix)))


def test_the_store_opens_on_another_thread_while_files_load(
    make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = build_pipeline(make_config())
    third_file_loaded = threading.Event()
    _count_loads(pipeline, monkeypatch, lambda n: n == 3 and third_file_loaded.set())
    real_open = pipeline._open_for_writing
    opened_on = []

    def open_after_the_third_file(manifest: Manifest) -> None:  # deadlocks (times out) if run inline
        opened_on.append(threading.current_thread().name)
        assert third_file_loaded.wait(10), "files were not loaded while the store was opening"
        real_open(manifest)

    monkeypatch.setattr(pipeline, "_open_for_writing", open_after_the_third_file)
    report = pipeline.ingest([docs_dir])
    assert (report.files_new, report.files_failed) == (3, 0)
    assert report.chunks_added == pipeline.store.count() > 0
    assert opened_on and opened_on != [threading.current_thread().name]


def test_a_store_that_fails_to_open_fails_the_ingest_and_records_nothing(
    make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = build_pipeline(make_config())

    def refuse(manifest: Manifest) -> None:
        raise InputError("the store refused to open; fix it")

    monkeypatch.setattr(pipeline, "_open_for_writing", refuse)
    with pytest.raises(InputError, match="refused to open"):
        pipeline.ingest([docs_dir])
    assert not Manifest.load(pipeline.manifest_path()).sources
