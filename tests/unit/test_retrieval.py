"""Fusion arithmetic, the BM25 retriever, and hybrid pipelines kept in sync by ingestion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError
from rag_app.pipeline import build_pipeline
from rag_app.retrieval.fusion import reciprocal_rank_fusion, weighted_score_fusion
from rag_app.types import Chunk, Filter, ScoredChunk

MakeConfig = Callable[..., PipelineConfig]
HYBRID = {"retrievers": [{"type": "dense"}, {"type": "bm25"}], "candidates": 20}


def hit(cid: str, score: float) -> ScoredChunk:
    return ScoredChunk(Chunk(cid, cid.split(":")[0], "s", cid), score)


def test_rrf_matches_hand_computation() -> None:
    a = [hit("x:1", 0.9), hit("y:1", 0.8), hit("z:1", 0.1)]
    b = [hit("y:1", 12.0), hit("w:1", 3.0)]
    fused = reciprocal_rank_fusion([a, b], [1.0, 2.0], k=60)
    expected = {
        "y:1": 1 / 62 + 2 / 61,
        "x:1": 1 / 61,
        "w:1": 2 / 62,
        "z:1": 1 / 63,
    }
    assert [h.chunk.chunk_id for h in fused] == sorted(expected, key=lambda c: -expected[c])
    assert all(h.score == pytest.approx(expected[h.chunk.chunk_id]) for h in fused)


def test_rrf_ties_break_by_chunk_id() -> None:
    fused = reciprocal_rank_fusion([[hit("b:1", 1.0)], [hit("a:1", 1.0)]], [1.0, 1.0])
    assert [h.chunk.chunk_id for h in fused] == ["a:1", "b:1"]


def test_weighted_fusion_normalises_each_list() -> None:
    a = [hit("x:1", 0.9), hit("y:1", 0.5), hit("z:1", 0.1)]
    b = [hit("z:1", 30.0), hit("x:1", 10.0)]
    fused = {h.chunk.chunk_id: h.score for h in weighted_score_fusion([a, b], [1.0, 1.0])}
    assert fused == pytest.approx({"x:1": 1.0 + 0.0, "y:1": 0.5, "z:1": 0.0 + 1.0})


def _bm25(tmp_path: Path, **params: object):  # type: ignore[no-untyped-def]
    return registry.create("retriever", "bm25", dict(params), index_dir=tmp_path / "bm25")


def test_bm25_ranks_lexically_and_filters(tmp_path: Path) -> None:
    bm25 = _bm25(tmp_path)
    bm25.on_upsert(
        [
            Chunk("a:00000", "a", "a.md", "Attention cost grows quadratically with sequence length.", {"format": "md"}),
            Chunk("b:00000", "b", "b.txt", "LoRA learns a low-rank update of frozen weights.", {"format": "txt"}),
            Chunk("c:00000", "c", "c.md", "Sequence models read tokens.", {"format": "md"}),
        ]
    )
    bm25.commit()
    hits = bm25.retrieve("how does attention scale with sequence length", depth=10)
    assert [h.chunk.chunk_id for h in hits] == ["a:00000", "c:00000"]
    assert hits[0].scores["bm25"] == hits[0].score > hits[1].score > 0
    filtered = bm25.retrieve("sequence", depth=10, filters=[Filter("doc_id", "ne", "a")])
    assert [h.chunk.chunk_id for h in filtered] == ["c:00000"]
    assert bm25.retrieve("sequence", depth=10, filters=[Filter("format", "eq", "pdf")]) == []


def test_bm25_persists_and_applies_deletes(tmp_path: Path) -> None:
    bm25 = _bm25(tmp_path)
    bm25.on_upsert([Chunk("a:00000", "a", "a", "gradient descent steps"), Chunk("b:00000", "b", "b", "gradient noise")])
    bm25.commit()
    again = _bm25(tmp_path)
    assert again.size() == 2
    again.on_delete(["a:00000"])
    again.commit()
    assert [h.chunk.chunk_id for h in _bm25(tmp_path).retrieve("gradient", depth=5)] == ["b:00000"]


def test_a_reader_follows_another_writers_commits_without_a_rebuild(tmp_path: Path) -> None:
    writer, reader = _bm25(tmp_path), _bm25(tmp_path)  # two processes' views of one index folder
    writer.on_upsert([Chunk("a:00000", "a", "a", "gradient descent steps")])
    writer.commit(1)
    assert reader.generation() == 1 and [h.chunk.chunk_id for h in reader.retrieve("gradient", depth=5)] == ["a:00000"]
    writer.on_upsert([Chunk("b:00000", "b", "b", "gradient noise and momentum")])
    writer.on_delete(["a:00000"])
    writer.commit(2)
    assert reader.generation() == 2  # re-read from the committed file: the pipeline's sync sees no drift
    assert reader.size() == 1
    assert [h.chunk.chunk_id for h in reader.retrieve("gradient momentum", depth=5)] == ["b:00000"]


def test_uncommitted_changes_are_not_replaced_by_the_file(tmp_path: Path) -> None:
    bm25, other = _bm25(tmp_path), _bm25(tmp_path)
    bm25.on_upsert([Chunk("a:00000", "a", "a", "gradient descent")])
    bm25.commit(1)
    bm25.on_upsert([Chunk("b:00000", "b", "b", "gradient noise")])  # pending in this process
    other.on_upsert([Chunk("c:00000", "c", "c", "other text")])
    other.commit(2)
    assert bm25.size() == 2  # its own pending upsert stays until it commits


def test_bm25_stemming_is_configurable(tmp_path: Path) -> None:
    chunks = [Chunk("a:00000", "a", "a", "the models were scaling"), Chunk("b:00000", "b", "b", "other text here")]
    stemmed, plain = _bm25(tmp_path / "s"), _bm25(tmp_path / "p", stemmer=None)
    for r in (stemmed, plain):
        r.on_upsert(chunks)
        r.commit()
    assert stemmed.retrieve("scaled model", depth=2)
    assert plain.retrieve("scaled model", depth=2) == []


def test_hybrid_pipeline_stays_in_sync_through_ingest(
    make_config: MakeConfig, docs_dir: Path
) -> None:
    pipeline = build_pipeline(make_config(retrieval=HYBRID))
    pipeline.ingest([docs_dir])
    bm25 = pipeline.retrievers[1]
    assert bm25.size() == pipeline.store.count()
    hits = pipeline.search("BM25 inverse document frequency", top_k=3)
    assert hits[0].chunk.source.endswith("bm25.txt")
    assert set(hits[0].scores) == {"dense", "bm25"}
    (docs_dir / "notes" / "bm25.txt").unlink()
    pipeline.ingest([docs_dir])
    assert bm25.size() == pipeline.store.count()
    assert all("bm25.txt" not in h.chunk.source for h in pipeline.search("inverse document frequency", top_k=5))
    # a fresh process sees the persisted sparse index
    reopened = build_pipeline(make_config(retrieval=HYBRID))
    assert reopened.retrievers[1].size() == pipeline.store.count()


def test_adding_bm25_to_an_existing_collection_backfills_it_from_the_store(
    make_config: MakeConfig, docs_dir: Path
) -> None:
    dense = build_pipeline(make_config())
    first = dense.ingest([docs_dir])
    hybrid = build_pipeline(make_config(retrieval=HYBRID))
    report = hybrid.ingest([docs_dir])
    assert report.embeddings_computed == 0 and report.files_unchanged == 3
    assert hybrid.retrievers[1].size() == first.chunks_added
    assert set(hybrid.search("inverse document frequency", top_k=1)[0].scores) == {"dense", "bm25"}


def test_unknown_retriever_lists_valid_ones(make_config: MakeConfig) -> None:
    with pytest.raises(ConfigError, match="valid retriever types: bm25, dense"):
        build_pipeline(make_config(retrieval={"retrievers": [{"type": "splade"}]}))


def test_searching_backfills_an_empty_sparse_index(make_config: MakeConfig, docs_dir: Path) -> None:
    build_pipeline(make_config()).ingest([docs_dir])
    hybrid = build_pipeline(make_config(retrieval=HYBRID))
    hits = hybrid.search("inverse document frequency", top_k=1)
    assert hits[0].chunk.source.endswith("bm25.txt") and "bm25" in hits[0].scores
    assert hybrid.retrievers[1].size() == hybrid.store.count()
