"""The LLM relevance reranker with small deterministic generators (no model)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.backends.rerankers.llm import LLMReranker, parse_rating
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError
from rag_app.generation.yes_no import yes_probability
from rag_app.pipeline import build_pipeline
from rag_app.protocols import ChoiceScorer, Generator, Reranker
from rag_app.types import Chunk, GenerationResult, Message, ScoredChunk
from tests.support.fake_generator import CannedGenerator
from tests.support.pipelines import replaced

MakeConfig = Callable[..., PipelineConfig]

PASSAGES = {
    "att": "Self-attention cost grows quadratically with sequence length.",
    "lora": "LoRA learns a low-rank update of frozen weights.",
    "bm25": "BM25 ranks documents by term frequency.",
    "misc": "The handbook has nine chapters.",
}


class RatingGenerator(CannedGenerator):
    """Replies to a relevance prompt with the canned reply of the passage inside it."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__(self._rate, name="rating")
        self.replies = replies
        self.rated: list[str] = []

    def _rate(self, prompt: str) -> str:
        key = next(k for k, text in PASSAGES.items() if text in prompt)
        self.rated.append(key)
        return self.replies[key]


class YesNoGenerator(RatingGenerator):
    """Also exposes ``choice_logprobs``: fixed P(Yes) per passage, the rest of the mass on No."""

    def __init__(self, p_yes: dict[str, float]) -> None:
        super().__init__({})
        self.p_yes = p_yes
        self.batches: list[int] = []

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        assert list(choices) == ["Yes", "yes", "No", "no"]
        rows = []
        for start in range(0, len(conversations), batch_size):
            batch = conversations[start : start + batch_size]
            self.batches.append(len(batch))
            for messages in batch:
                key = next(k for k, text in PASSAGES.items() if text in messages[-1].content)
                p = self.p_yes[key]
                rows.append([math.log(p * 0.9), math.log(p * 0.1), math.log((1 - p) * 0.5), math.log((1 - p) * 0.5)])
        return rows


def hits(*keys: str) -> list[ScoredChunk]:
    return [
        ScoredChunk(Chunk(f"{k}:0", k, f"{k}.md", PASSAGES[k]), 2.0 - 0.25 * i, {"dense": 0.9 - 0.1 * i})
        for i, k in enumerate(keys)
    ]


def reranker(generator: Generator, **params: object) -> LLMReranker:
    built: LLMReranker = registry.create("reranker", "llm", dict(params), generator=generator)
    return built


def keys(out: Sequence[ScoredChunk]) -> list[str]:
    return [h.chunk.doc_id for h in out]


# --- parsing and arithmetic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        ("8", 8.0),
        (" Score: 7/10", 7.0),
        ("**9.5**", 9.5),
        ("10", 10.0),
        ("0 - unrelated", 0.0),
        ("I would rate it 6 out of 10.", 6.0),
        ("The passage is relevant.", None),
        ("", None),
        ("85", None),
        ("v2 of the model scores 3", 3.0),
    ],
)
def test_parse_rating(reply: str, rating: float | None) -> None:
    assert parse_rating(reply) == rating


def test_yes_probability_sums_the_spellings_of_each_answer() -> None:
    assert yes_probability([math.log(0.3), math.log(0.1)], [math.log(0.2), math.log(0.2)]) == pytest.approx(0.5)
    assert yes_probability([math.log(0.6)], [math.log(0.2)]) == pytest.approx(0.75)
    assert yes_probability([-math.inf], [-math.inf]) == 0.5
    assert yes_probability([0.0], [-5000.0]) == pytest.approx(1.0)


# --- score method (any generator) -----------------------------------------------------------------


def test_score_method_reorders_by_the_rating_and_keeps_earlier_scores() -> None:
    gen = RatingGenerator({"att": "3", "lora": "Relevance: 9", "bm25": "7/10", "misc": "0"})
    rr = reranker(gen, batch_size=1)
    assert isinstance(rr, Reranker) and rr.method == "score"
    out = rr.rerank("what does LoRA learn?", hits("att", "lora", "bm25", "misc"), 3)
    assert keys(out) == ["lora", "bm25", "att"]
    assert [h.score for h in out] == [9.0, 7.0, 3.0]
    assert out[0].scores == {"dense": 0.8, "rerank": 9.0}


def test_unparseable_reply_scores_lowest_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    gen = RatingGenerator({"att": "It is relevant!", "lora": "2", "bm25": "0", "misc": "0"})
    with caplog.at_level(logging.WARNING, logger="rag_app.backends.rerankers.llm"):
        out = reranker(gen).rerank("q", hits("att", "lora", "bm25"), 3)
    assert keys(out) == ["lora", "att", "bm25"]  # equal scores keep the incoming order
    assert out[1].scores["rerank"] == 0.0
    assert "no 0-10 rating in the reply 'It is relevant!'" in caplog.text


def test_only_depth_hits_are_scored_and_the_rest_follow_in_order() -> None:
    gen = RatingGenerator({"att": "1", "lora": "8", "bm25": "9", "misc": "9"})
    out = reranker(gen, depth=2).rerank("q", hits("att", "lora", "bm25", "misc"), 4)
    assert sorted(gen.rated) == ["att", "lora"]
    assert keys(out) == ["lora", "att", "bm25", "misc"]
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)  # score order == list order
    assert out[2].score == pytest.approx(0.0) and out[3].score == pytest.approx(-0.25)  # 1.0 below the lowest
    assert "rerank" not in out[2].scores and out[2].scores["dense"] == pytest.approx(0.7)
    assert keys(reranker(gen, depth=2).rerank("q", hits("att", "lora", "bm25"), 1)) == ["lora"]


def test_ratings_are_requested_concurrently_up_to_batch_size() -> None:
    gen = RatingGenerator({k: str(i) for i, k in enumerate(PASSAGES)})
    out = reranker(gen, batch_size=4).rerank("q", hits(*PASSAGES), 4)
    assert keys(out) == ["misc", "bm25", "lora", "att"] and sorted(gen.rated) == sorted(PASSAGES)


# --- logprob method ---------------------------------------------------------------------------------


def test_logprob_method_scores_p_yes_in_batches() -> None:
    gen = YesNoGenerator({"att": 0.2, "lora": 0.9, "bm25": 0.6, "misc": 0.1})
    assert isinstance(gen, ChoiceScorer)
    rr = reranker(gen, batch_size=3)
    assert rr.method == "logprob"  # auto picks it when the generator can
    out = rr.rerank("what does LoRA learn?", hits("att", "lora", "bm25", "misc"), 4)
    assert keys(out) == ["lora", "bm25", "att", "misc"]
    assert [h.scores["rerank"] for h in out] == pytest.approx([0.9, 0.6, 0.2, 0.1])
    assert gen.batches == [3, 1] and gen.rated == []  # no text generated


def test_blend_mixes_in_the_previous_score() -> None:
    gen = YesNoGenerator({"att": 0.5, "lora": 0.55, "bm25": 0.1, "misc": 0.1})
    assert keys(reranker(gen, blend=0.5).rerank("q", hits("att", "lora", "bm25"), 3))[0] == "att"


def test_prompt_carries_the_question_and_a_shortened_passage() -> None:
    seen: list[str] = []

    class Recording(RatingGenerator):
        def generate(
            self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
        ) -> GenerationResult:
            seen.append(messages[-1].content)
            assert max_tokens == 3
            return GenerationResult("5")

    long_hit = ScoredChunk(Chunk("x:0", "x", "x.md", "word " * 400), 1.0)
    reranker(Recording({}), max_passage_chars=100, max_tokens=3).rerank("why?", [long_hit], 1)
    assert "Question: why?" in seen[0] and "Relevance from 0 to 10" in seen[0]
    assert "word " * 19 + "word …" in seen[0] and "word " * 25 not in seen[0]


def test_logprob_needs_a_generator_that_can_score() -> None:
    with pytest.raises(ConfigError, match="method 'logprob' needs a generator that exposes next-token"):
        reranker(RatingGenerator({}), method="logprob")


# --- building ---------------------------------------------------------------------------------------


def test_needs_a_generator_one_line_error(make_config: MakeConfig) -> None:
    with pytest.raises(ConfigError) as err:
        build_pipeline(make_config(retrieval={"reranker": {"type": "llm"}}))
    assert str(err.value) == "reranker 'llm' needs a generator; add a `generator:` block to the config"


def test_build_pipeline_hands_the_generator_to_the_reranker(make_config: MakeConfig) -> None:
    config = make_config(
        retrieval={"reranker": {"type": "llm", "params": {"depth": 5}}},
        generator={"type": "hf_local", "params": {"max_new_tokens": 8}},
    )
    pipeline = build_pipeline(config)  # no model loads at build time
    assert isinstance(pipeline.reranker, LLMReranker)
    assert pipeline.reranker.method == "logprob"  # hf_local exposes next-token probabilities


def test_unknown_param_lists_the_valid_ones(make_config: MakeConfig) -> None:
    with pytest.raises(ConfigError, match=r"reranker 'llm': unknown key 'top_n' \(valid keys: method, depth"):
        build_pipeline(
            make_config(
                retrieval={"reranker": {"type": "llm", "params": {"top_n": 5}}}, generator={"type": "hf_local"}
            )
        )


def test_in_the_pipeline_after_fusion(make_config: MakeConfig, docs_dir: Path) -> None:
    base = build_pipeline(make_config(retrieval={"retrievers": [{"type": "dense"}, {"type": "bm25"}]}))
    base.ingest([docs_dir])

    def p_yes(text: str) -> float:
        return 0.95 if "LoRA" in text else 0.05

    class ByText(YesNoGenerator):
        def choice_logprobs(
            self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
        ) -> list[list[float]]:
            out = []
            for messages in conversations:
                p = p_yes(messages[-1].content)
                out.append([math.log(p), -math.inf, math.log(1 - p), -math.inf])
            return out

    gen = ByText({})
    pipeline = replaced(base, generator=gen, reranker=reranker(gen))
    top = pipeline.search("how does attention scale with sequence length?", top_k=2)
    assert "LoRA" in top[0].chunk.text and top[0].scores.keys() >= {"dense", "rerank"}
