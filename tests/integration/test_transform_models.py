"""multi_query and the LLM reranker with the real packaged SmolLM2-135M-Instruct (offline, CPU).

A three-document corpus, short generations: each test takes seconds once the
model is converted (the first run ever converts the GGUF, see test_hf_local.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag_app.backends.rerankers.llm import LLMReranker
from rag_app.config import PipelineConfig
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.weights import DEFAULT_CACHE_DIR
from tests.support.models import require_smollm2

require_smollm2()
pytestmark = pytest.mark.slow

MakeConfig = Callable[..., PipelineConfig]
QUESTION = "How does the cost of attention grow with sequence length?"


def generator_block(max_new_tokens: int = 16) -> dict[str, Any]:
    cache = os.environ.get("RAG_TEST_MODEL_CACHE", DEFAULT_CACHE_DIR)
    return {"type": "hf_local", "params": {"max_new_tokens": max_new_tokens, "threads": 1, "cache_dir": cache}}


def names(pipeline_hits: list[Any]) -> list[str]:
    return [Path(h.chunk.source).name for h in pipeline_hits]


def test_multi_query_with_smollm2(make_config: MakeConfig, docs_dir: Path) -> None:
    pipeline = build_pipeline(
        make_config(
            retrieval={
                "retrievers": [{"type": "dense"}, {"type": "bm25"}],
                "query_transform": {"type": "multi_query", "params": {"n": 2, "max_tokens": 40}},
            },
            generator=generator_block(),
        )
    )
    pipeline.ingest([docs_dir])
    transform = pipeline.query_transform
    assert transform is not None
    queries = transform.expand(QUESTION)
    assert queries[0] == QUESTION and 1 <= len(queries) <= 3  # the original plus up to n rewrites
    assert all(q.strip() and "\n" not in q for q in queries)
    hits = pipeline.search(QUESTION, top_k=3)
    assert names(hits)[0] == "attention.md"
    assert transform.generations == 1  # the search reused the cached expansion


def test_llm_reranker_with_smollm2(make_config: MakeConfig, docs_dir: Path) -> None:
    config = make_config(
        retrieval={
            "retrievers": [{"type": "dense"}, {"type": "bm25"}],
            "reranker": {"type": "llm", "params": {"depth": 3}},
        },
        generator=generator_block(),
    )
    pipeline: Pipeline = build_pipeline(config)
    pipeline.ingest([docs_dir])
    reranker = pipeline.reranker
    assert isinstance(reranker, LLMReranker) and reranker.method == "logprob"
    hits = pipeline.search(QUESTION, top_k=3)
    assert len(hits) == 3 and reranker.pairs_scored == 3
    assert all(0.0 < h.scores["rerank"] < 1.0 and "dense" in h.scores for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    again = pipeline.search(QUESTION, top_k=3)  # deterministic: a forward pass, no sampling
    assert [(h.chunk.chunk_id, h.score) for h in again] == [(h.chunk.chunk_id, h.score) for h in hits]

    scored = build_pipeline(
        make_config(
            retrieval={"reranker": {"type": "llm", "params": {"method": "score", "depth": 2, "max_tokens": 4}}},
            generator=generator_block(),
        )
    )
    top = scored.search(QUESTION, top_k=3)
    assert len(top) == 3 and all(0.0 <= h.scores["rerank"] <= 10.0 for h in top[:2])
    assert "rerank" not in top[2].scores  # beyond depth: not scored, kept after the scored ones
