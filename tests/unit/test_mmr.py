"""MMR diversity over the final candidates, with the real hashing embedder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag_app import registry
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError
from rag_app.pipeline import build_pipeline
from rag_app.retrieval.mmr import MaximalMarginalRelevance
from rag_app.types import Chunk, ScoredChunk

MakeConfig = Callable[..., PipelineConfig]

TEXTS = {
    "a": "attention cost grows quadratically with sequence length",
    "a2": "attention cost grows quadratically with the sequence length",
    "b": "LoRA learns a low rank update of frozen weights",
    "c": "BM25 ranks documents by term frequency",
}


def hits(*cids: str) -> list[ScoredChunk]:
    """Hits in the given order with decreasing scores and a fake earlier stage score."""
    return [
        ScoredChunk(Chunk(f"{c}:0", c, f"{c}.md", TEXTS[c]), 1.0 - 0.1 * i, {"dense": 0.5 - 0.1 * i})
        for i, c in enumerate(cids)
    ]


def mmr(**config: float) -> MaximalMarginalRelevance:
    embedder = registry.create("embedder", "hashing", {"dimension": 256})
    return MaximalMarginalRelevance(MaximalMarginalRelevance.Params(**config), embedder=embedder)


def order(out: list[ScoredChunk]) -> list[str]:
    return [h.chunk.doc_id for h in out]


def test_lambda_one_keeps_the_incoming_order() -> None:
    out = mmr(lambda_mult=1.0).select(hits("a", "a2", "b", "c"), 4)
    assert order(out) == ["a", "a2", "b", "c"]


def test_near_duplicate_is_pushed_down() -> None:
    out = mmr(lambda_mult=0.5).select(hits("a", "a2", "b", "c"), 3)
    assert order(out) == ["a", "b", "c"]  # a2 repeats a almost word for word


def test_matches_the_formula_by_hand() -> None:
    selector = mmr(lambda_mult=0.6)
    incoming = hits("a", "a2", "b", "c")
    out = selector.select(incoming, 4)
    vectors = np.asarray(selector._embedder.embed_documents([h.chunk.text for h in incoming]))  # type: ignore[attr-defined]
    sim = vectors @ vectors.T
    rel = np.array([1.0, 2 / 3, 1 / 3, 0.0])  # scores 1.0 .. 0.7 min-max normalised
    chosen: list[int] = []
    values = []
    for _ in range(4):
        value = [
            -np.inf if i in chosen else 0.6 * rel[i] - 0.4 * max((sim[i, j] for j in chosen), default=0.0)
            for i in range(4)
        ]
        chosen.append(int(np.argmax(value)))
        values.append(max(value))
    assert order(out) == [["a", "a2", "b", "c"][i] for i in chosen]
    assert [h.scores["mmr"] for h in out] == pytest.approx(values)


def test_scores_follow_the_mmr_order_and_earlier_scores_are_kept() -> None:
    out = mmr(lambda_mult=0.5).select(hits("a", "a2", "b", "c"), 4)
    assert [h.score for h in out] == [1.0, 0.75, 0.5, 0.25]  # sorting by score keeps the MMR order
    assert all({"dense", "mmr"} <= h.scores.keys() for h in out)


def test_picks_only_from_the_pool_of_best_candidates() -> None:
    selector = mmr(lambda_mult=0.0, candidates=2)
    assert selector.pool_size(1) == 2 and selector.pool_size(5) == 5
    out = selector.select(hits("a", "a2", "b", "c"), 1)
    assert order(out) == ["a"]
    assert order(selector.select(hits("a", "a2", "b", "c"), 2)) == ["a", "a2"]  # b, c are outside the pool


def test_each_text_is_embedded_once_across_queries() -> None:
    selector = mmr()
    selector.select(hits("a", "b"), 2)
    selector.select(hits("b", "c", "a"), 3)
    info = selector.cache_info()
    assert info["documents_embedded"] == 3 and info["hits"] == 2


def test_empty_input() -> None:
    assert mmr().select([], 5) == []


def test_pipeline_applies_mmr_before_cutting_to_top_k(make_config: MakeConfig, tmp_path: Path) -> None:
    docs = tmp_path / "dup"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / f"{name}.md").write_text(text + "\n", encoding="utf-8")
    query = "attention cost with sequence length"
    plain = build_pipeline(make_config())
    plain.ingest([docs])
    assert plain.mmr is None  # off by default
    assert [Path(h.chunk.source).stem for h in plain.search(query, top_k=2)] == ["a", "a2"]
    diverse = build_pipeline(make_config(retrieval={"mmr": {"lambda_mult": 0.5, "candidates": 4}}))
    top = diverse.search(query, top_k=2)
    stems = [Path(h.chunk.source).stem for h in top]
    assert stems[0] == "a" and "a2" not in stems  # the near-duplicate gave way to another topic
    assert all("mmr" in h.scores and "dense" in h.scores for h in top)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"lambda": 0.5}, "retrieval.mmr: unknown key 'lambda' (valid keys: lambda_mult, candidates, cache_size)"),
        ({"lambda_mult": 1.5}, "retrieval.mmr: lambda_mult: Input should be less than or equal to 1"),
        ({"candidates": 0}, "retrieval.mmr: candidates: Input should be greater than 0"),
    ],
)
def test_config_is_validated(make_config: MakeConfig, block: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(retrieval={"mmr": block})
    assert message in str(err.value)
