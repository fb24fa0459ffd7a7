"""Query transforms (multi_query, HyDE) on the hashing/memory pipeline with a canned generator."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rag_app.config import PipelineConfig, QueryTransformConfig
from rag_app.errors import BackendError, ConfigError
from rag_app.generation.templates import TASK_TEMPLATES, load_task_template, load_template, template_names
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.protocols import Generator, Retriever
from rag_app.retrieval.fusion import reciprocal_rank_fusion
from rag_app.retrieval.transforms import QueryTransform, build_query_transform, parse_queries
from rag_app.types import Filter, GenerationResult, Message, ScoredChunk
from tests.support.fake_generator import CannedGenerator
from tests.support.pipelines import replaced

MakeConfig = Callable[..., PipelineConfig]
QUESTION = "how expensive is attention for long inputs?"


class FailingGenerator(CannedGenerator):
    def __init__(self) -> None:
        super().__init__("")

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        self.prompts.append(messages[-1].content)
        raise BackendError("local generation failed: out of memory")


class RecordingRetriever:
    """Wraps a real retriever and records every call's query and filters."""

    def __init__(self, inner: Retriever) -> None:
        self._inner = inner
        self.name = inner.name
        self.calls: list[tuple[str, tuple[Filter, ...]]] = []

    def retrieve(self, query: str, *, depth: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        self.calls.append((query, tuple(filters)))
        return self._inner.retrieve(query, depth=depth, filters=filters)


def transform(kind: str = "multi_query", **params: object) -> QueryTransformConfig:
    return QueryTransformConfig(type=kind, params=dict(params))  # type: ignore[arg-type]


def make(config: QueryTransformConfig, generator: Generator) -> QueryTransform:
    """The registered transform ``config`` names, driven by ``generator``."""
    built = build_query_transform(config, generator)
    assert built is not None
    return built


def with_transform(base: Pipeline, config: QueryTransformConfig, generator: Generator) -> Pipeline:
    """``base`` (ingested, real components) with a query transform driven by ``generator``."""
    return replaced(base, generator=generator, query_transform=make(config, generator))


@pytest.fixture
def base(make_config: MakeConfig, docs_dir: Path) -> Pipeline:
    pipeline = build_pipeline(make_config(retrieval={"retrievers": [{"type": "dense"}, {"type": "bm25"}]}))
    pipeline.ingest([docs_dir])
    return pipeline


def ids(hits: Sequence[ScoredChunk]) -> list[str]:
    return [Path(h.chunk.source).name for h in hits]


# --- parsing -----------------------------------------------------------------------------------


def test_parse_queries_strips_numbering_labels_and_quotes() -> None:
    reply = (
        "Here are three rewritten questions:\n"
        "1. What does self-attention cost?\n"
        '2) "How does attention scale with sequence length?"\n'
        "- Question: Why is attention quadratic?\n"
        "Answer: It compares every pair of tokens.\n"
        "* how expensive is attention for long inputs\n"
        "Query 4: one too many?\n"
    )
    assert parse_queries(reply, QUESTION, 3) == [
        "What does self-attention cost?",
        "How does attention scale with sequence length?",
        "Why is attention quadratic?",
    ]
    assert parse_queries("2.5 million tokens of context?", QUESTION, 3) == ["2.5 million tokens of context?"]
    assert parse_queries("\n  \n", QUESTION, 3) == []


# --- the transform ---------------------------------------------------------------------------------


def test_multi_query_keeps_the_original_first_and_caps_n() -> None:
    gen = CannedGenerator("1. cost of attention\n2. attention complexity\n3. quadratic attention")
    qt = make(transform(n=2, max_tokens=40), gen)
    assert qt.expand(QUESTION) == [QUESTION, "cost of attention", "attention complexity"]
    assert gen.max_tokens == [40]
    assert "Write 2 rewritten questions" in gen.prompts[0] and QUESTION in gen.prompts[0]
    without = make(transform(n=2, include_original=False), CannedGenerator("a\nb"))
    assert without.expand(QUESTION) == ["a", "b"]


def test_hyde_searches_with_the_hypothetical_passage() -> None:
    gen = CannedGenerator("  Self-attention compares every token\n with every other token.  ")
    qt = make(transform("hyde", max_tokens=50), gen)
    assert qt.expand(QUESTION) == [QUESTION, "Self-attention compares every token with every other token."]
    assert gen.max_tokens == [50] and "Passage:" in gen.prompts[0]


def test_repeated_query_is_served_from_the_lru_cache() -> None:
    gen = CannedGenerator(lambda prompt: "rewrite of " + prompt.rsplit("Question: ", 1)[1].split("\n")[0])
    qt = make(QueryTransformConfig(type="multi_query", cache_size=2), gen)
    first = qt.expand("a?")
    assert qt.expand("a?") == first and len(gen.prompts) == 1
    qt.expand("b?")
    qt.expand("c?")  # evicts "a?", the least recently used
    qt.expand("c?")
    assert len(gen.prompts) == 3
    qt.expand("a?")
    assert len(gen.prompts) == 4 and qt.generations == 4


def test_failure_falls_back_to_the_original_query_and_is_not_cached(caplog: pytest.LogCaptureFixture) -> None:
    gen = FailingGenerator()
    qt = make(transform(), gen)
    with caplog.at_level(logging.WARNING, logger="rag_app.retrieval.transforms"):
        assert qt.expand(QUESTION) == [QUESTION]
        assert qt.expand(QUESTION) == [QUESTION]
    assert len(gen.prompts) == 2  # a failure is retried on the next search
    assert "query transform multi_query failed (local generation failed" in caplog.text


def test_unusable_reply_falls_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rag_app.retrieval.transforms"):
        assert make(transform("hyde"), CannedGenerator(" \n ")).expand(QUESTION) == [QUESTION]
        assert make(transform(), CannedGenerator(f"1. {QUESTION}")).expand(QUESTION) == [QUESTION]
    assert caplog.text.count("produced no usable text") == 2


# --- through Pipeline.search ------------------------------------------------------------------


def test_search_fuses_the_lists_of_every_query_with_rrf(base: Pipeline) -> None:
    rewrites = ["low-rank update of frozen weights", "term frequency and document length"]
    pipeline = with_transform(base, transform(n=2), CannedGenerator("\n".join(rewrites)))
    hits = pipeline.search(QUESTION, top_k=3)
    per_query = [base.search(q, top_k=50) for q in (QUESTION, *rewrites)]  # each: dense + BM25, fused as configured
    expected = reciprocal_rank_fusion(per_query, [1.0, 1.0, 1.0])[:3]
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [(h.chunk.chunk_id, h.score) for h in expected]
    assert hits[0].scores.keys() >= {"dense", "bm25"}  # per-retriever scores are kept


def test_filters_reach_every_retriever_call_of_every_query(base: Pipeline) -> None:
    gen = CannedGenerator("low-rank update of frozen weights\nLoRA adapters")
    pipeline = with_transform(base, transform(n=2), gen)
    recorders = [RecordingRetriever(r) for r in base.retrievers]
    pipeline.retrievers = list(recorders)
    lora = next(d["doc_id"] for d in base.documents() if d["source"].endswith("lora.md"))
    no_lora = (Filter("doc_id", "ne", lora),)
    assert "lora.md" in ids(pipeline.search(QUESTION, top_k=5))
    for recorder in recorders:
        recorder.calls.clear()
    hits = pipeline.search(QUESTION, top_k=5, filters=no_lora)
    assert hits and "lora.md" not in ids(hits)  # the rewrites point at lora.md; the filter still holds
    for recorder in recorders:
        assert [q for q, _ in recorder.calls] == [QUESTION, "low-rank update of frozen weights", "LoRA adapters"]
        assert all(f == no_lora for _, f in recorder.calls)


def test_search_survives_a_failing_generator(base: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = with_transform(base, transform("hyde"), FailingGenerator())
    with caplog.at_level(logging.WARNING):
        hits = pipeline.search(QUESTION, top_k=3)
    assert [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in base.search(QUESTION, top_k=3)]
    assert "retrieving with the original query" in caplog.text


def test_transform_is_off_by_default_and_needs_a_generator(make_config: MakeConfig) -> None:
    assert build_pipeline(make_config()).query_transform is None
    with pytest.raises(ConfigError) as err:
        build_pipeline(make_config(retrieval={"query_transform": {"type": "multi_query"}}))
    assert "needs a generator" in str(err.value) and "\n" not in str(err.value)


def test_generator_config_builds_the_transform(make_config: MakeConfig) -> None:
    config = make_config(
        retrieval={"query_transform": {"type": "hyde", "params": {"max_tokens": 40}}},
        generator={"type": "hf_local", "params": {"max_new_tokens": 16}},
    )
    pipeline = build_pipeline(config)  # no model loads at build time
    assert pipeline.query_transform is not None and pipeline.query_transform.kind == "hyde"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "multi_query", "params": {"count": 3}}, "unknown key 'count' (valid keys: n, max_tokens"),
        ({"type": "multi_query", "params": {"n": 0}}, "n: Input should be greater than or equal to 1"),
        ({"type": "hyde", "params": {"n": 2}}, "unknown key 'n' (valid keys: max_tokens, include_original"),
        ({"type": "rewrite"}, "query_transform.type"),
        ({"type": "hyde", "cache": 3}, "unknown key 'retrieval.query_transform.cache'"),
    ],
)
def test_config_errors_name_the_bad_key(make_config: MakeConfig, block: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(retrieval={"query_transform": block})
    assert message in str(err.value)


# --- templates --------------------------------------------------------------------------------


def test_task_prompts_are_not_offered_as_answer_templates() -> None:
    assert {"grounded", "concise"} <= set(template_names())
    assert not TASK_TEMPLATES & set(template_names())
    with pytest.raises(ConfigError, match="valid templates: concise, grounded"):
        load_template("no-such-template")
    assert "{n}" in load_task_template("multi_query", ("question", "n")).system


def test_task_template_fields_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("[user]\nRewrite {question} as {style}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['style'\]"):
        load_task_template(str(path), ("question", "n"))
    with pytest.raises(ConfigError, match="needs a {passage} field"):
        load_task_template("multi_query", ("question", "n", "passage"), required=("passage",))
