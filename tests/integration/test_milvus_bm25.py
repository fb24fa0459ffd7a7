"""Milvus' own BM25 (``store.params.full_text``) as the ``milvus_bm25`` retriever, on real Milvus Lite."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry
from rag_app.config import parse_config
from rag_app.errors import ConfigError
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Chunk, Filter
from tests.conftest import fast_config_dict

pytest.importorskip("pymilvus", reason="pip install 'rag-app[milvus]'")

BM25_ONLY = {"retrievers": [{"type": "milvus_bm25"}]}


def make_pipeline(tmp: Path, *, full_text: Any = True, retrieval: dict[str, Any] | None = None) -> Pipeline:
    data = fast_config_dict(tmp / "state")
    params: dict[str, Any] = {"uri": str(tmp / "milvus.db"), "collection": "docs"}
    if full_text is not None:
        params["full_text"] = full_text
    data["store"] = {"type": "milvus", "params": params}
    data["retrieval"] = retrieval or BM25_ONLY
    return build_pipeline(parse_config(data, base_dir=tmp))


@pytest.fixture
def pipeline(tmp_path: Path, docs_dir: Path) -> Iterator[Pipeline]:
    pipe = make_pipeline(tmp_path)
    pipe.ingest([docs_dir])
    yield pipe
    pipe.close()


def ids(hits: list[Any]) -> list[str]:
    return [h.chunk.metadata["relpath"] for h in hits]


def test_keyword_query_ranks_the_right_chunk_first(pipeline: Pipeline) -> None:
    hits = pipeline.search("quadratically with sequence length", top_k=5)
    assert ids(hits) == ["attention.md", "notes/bm25.txt"]  # only 'length' in the second; 'with' is a stop word
    hits = pipeline.search("low-rank matrices for documents", top_k=5)
    assert ids(hits)[0] == "lora.md" and set(ids(hits)) == {"lora.md", "notes/bm25.txt"}
    assert hits[0].score > hits[1].score > 0
    assert all(h.scores["milvus_bm25"] == h.score for h in hits)
    assert pipeline.search("zebra", top_k=5) == []
    assert pipeline.search("the with of and", top_k=5) == []  # English stop words only


def test_deletes_and_reingest_keep_the_sparse_index_in_sync(pipeline: Pipeline, docs_dir: Path) -> None:
    assert ids(pipeline.search("matrices", top_k=5)) == ["lora.md"]
    (docs_dir / "lora.md").write_text("# Adapters\n\nAdapters insert bottleneck layers.\n", encoding="utf-8")
    (docs_dir / "mixture.md").write_text("# MoE\n\nA router sends tokens to expert matrices.\n", encoding="utf-8")
    pipeline.ingest([docs_dir], prune=True)
    assert ids(pipeline.search("matrices", top_k=5)) == ["mixture.md"]
    assert ids(pipeline.search("bottleneck", top_k=5)) == ["lora.md"]
    (docs_dir / "mixture.md").unlink()
    pipeline.ingest([docs_dir], prune=True)
    assert pipeline.search("matrices router", top_k=5) == []
    assert pipeline.delete_document((docs_dir / "notes" / "bm25.txt").resolve().as_posix()) >= 1
    assert pipeline.search("inverse document frequency", top_k=5) == []
    assert ids(pipeline.search("quadratically", top_k=5)) == ["attention.md"]


def test_filters_apply_as_on_the_dense_path(pipeline: Pipeline) -> None:
    query = "token frequency rank weights"
    everything = ids(pipeline.search(query, top_k=10))
    assert set(everything) == {"attention.md", "lora.md", "notes/bm25.txt"}
    for flt, expected in [
        (Filter("format", "eq", "txt"), ["notes/bm25.txt"]),
        (Filter("format", "ne", "txt"), ["attention.md", "lora.md"]),
        (Filter("relpath", "in", ["lora.md", "nowhere.md"]), ["lora.md"]),
        (Filter("relpath", "in", []), []),
        (Filter("format", "eq", "pdf"), []),
    ]:
        sparse = pipeline.search(query, top_k=10, filters=[flt])
        assert sorted(ids(sparse)) == expected, flt
        dense = make_dense_view(pipeline).search(query, top_k=10, filters=[flt])
        assert sorted(ids(sparse)) == sorted(set(ids(dense))), flt  # the same candidates


def make_dense_view(pipeline: Pipeline) -> Any:
    """The pipeline's own store, searched densely: what the ``dense`` retriever sees."""

    class View:
        def search(self, query: str, *, top_k: int, filters: list[Filter]) -> list[Any]:
            vector = pipeline.embedder.embed_query(query)
            return pipeline.store.search(vector, top_k, filters)

    return View()


def test_hybrid_with_dense(tmp_path: Path, docs_dir: Path) -> None:
    retrieval = {"retrievers": [{"type": "dense"}, {"type": "milvus_bm25"}], "candidates": 10}
    pipe = make_pipeline(tmp_path, retrieval=retrieval)
    try:
        pipe.ingest([docs_dir])
        hits = pipe.search("quadratically with sequence length", top_k=2)
        assert ids(hits)[0] == "attention.md"
        assert "milvus_bm25" in hits[0].scores and "dense" in hits[0].scores
    finally:
        pipe.close()


def test_scores_are_okapi_bm25_with_the_configured_k1_b(tmp_path: Path) -> None:
    full_text = {"k1": 1.2, "b": 0.5, "analyzer": {"tokenizer": "standard"}}
    store = registry.create(
        "store", "milvus", {"uri": str(tmp_path / "s.db"), "collection": "c", "full_text": full_text}
    )
    try:
        store.open(4, {"embedder": "test"})
        texts = ["cat cat cat dog", "dog bird", "bird fish", "fish"]
        store.upsert([Chunk(f"d{i}:0", f"d{i}", f"s{i}", t) for i, t in enumerate(texts)], [[1.0, 0, 0, 0]] * 4)
        hits = store.search_text("cat", 5)
        n, df, tf, dl, avgdl, k1, b = 4, 1, 3, 4, 9 / 4, 1.2, 0.5
        idf = math.log((n - df + 0.5) / (df + 0.5) + 1)
        expected = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
        assert [h.chunk.chunk_id for h in hits] == ["d0:0"]
        assert hits[0].score == pytest.approx(expected, rel=1e-5)
    finally:
        store.close()


# ---------------------------------------------------------------------------- clear errors


def test_retriever_needs_a_milvus_store(make_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"needs store type 'milvus' with full_text: true.*'bm25' retriever"):
        build_pipeline(make_config(retrieval=BM25_ONLY))


def test_retriever_needs_full_text_on(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"set store.params.full_text: true and re-ingest with --rebuild"):
        make_pipeline(tmp_path, full_text=None)
    with pytest.raises(ConfigError, match=r"set store.params.full_text: true"):
        make_pipeline(tmp_path, full_text=False)


def test_search_text_on_a_store_without_full_text(tmp_path: Path) -> None:
    store = registry.create("store", "milvus", {"uri": str(tmp_path / "s.db"), "collection": "c"})
    try:
        store.open(4, {"embedder": "test"})
        with pytest.raises(ConfigError, match=r"full-text search is off; set store.params.full_text: true"):
            store.search_text("anything", 3)
    finally:
        store.close()


def test_turning_full_text_on_for_an_old_collection(tmp_path: Path, docs_dir: Path) -> None:
    dense = {"retrievers": [{"type": "dense"}]}
    old = make_pipeline(tmp_path, full_text=None, retrieval=dense)
    old.ingest([docs_dir])
    before = old.store.count()
    old.close()
    new = make_pipeline(tmp_path)
    try:
        for action in (lambda: new.search("attention", top_k=3), lambda: new.ingest([docs_dir])):
            with pytest.raises(ConfigError, match=r"created without full-text search; re-ingest with --rebuild"):
                action()
    finally:
        new.close()
    old = make_pipeline(tmp_path, full_text=None, retrieval=dense)  # untouched, still searchable
    try:
        assert old.store.count() == before
        assert ids(old.search("quadratically sequence length", top_k=1)) == ["attention.md"]
    finally:
        old.close()
    rebuilt = make_pipeline(tmp_path)
    try:
        rebuilt.ingest([docs_dir], rebuild=True)
        assert ids(rebuilt.search("quadratically", top_k=3)) == ["attention.md"]
    finally:
        rebuilt.close()


def test_changed_full_text_settings_are_refused(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.close()
    changed = make_pipeline(tmp_path, full_text={"k1": 0.9})
    try:
        with pytest.raises(ConfigError, match=r"was built with full_text .*set store.params.full_text to match"):
            changed.search("attention", top_k=3)
    finally:
        changed.close()


@pytest.mark.parametrize(
    "analyzer",
    [{"type": "english"}, {"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "english"}]}],
)
def test_analyzers_milvus_lite_would_ignore_are_refused(tmp_path: Path, docs_dir: Path, analyzer: Any) -> None:
    pipe = make_pipeline(tmp_path, full_text={"analyzer": analyzer})
    try:
        with pytest.raises(ConfigError, match=r"Milvus Lite cannot apply store.params.full_text.analyzer"):
            pipe.ingest([docs_dir])
        assert pipe.store.fingerprint() is None  # nothing was created
    finally:
        pipe.close()


def test_unknown_full_text_keys_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"full_text\.k2"):
        make_pipeline(tmp_path, full_text={"k2": 1.0})


@pytest.mark.slow
def test_milvus_2_3_server_has_no_bm25(tmp_path: Path) -> None:
    from tests.support.milvus_server import ServerUnavailable, start_milvus_standalone

    try:
        server = start_milvus_standalone(tmp_path / "milvus")
    except ServerUnavailable as exc:
        pytest.skip(f"milvus 2.3 standalone: {exc}")
    try:
        params = {"uri": server.uri, "collection": "bm25_check", "full_text": True}
        store = registry.create("store", "milvus", params)
        try:
            with pytest.raises(ConfigError, match=r"Milvus v2\.3\.\S+ has no BM25 full-text search.*full_text: false"):
                store.open(4, {"embedder": "test"})
            assert store.fingerprint() is None
        finally:
            store.close()
    finally:
        server.stop()
