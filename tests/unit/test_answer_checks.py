"""Citation support checking, abstention signals and the answer stream (no models)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest
from pydantic import ValidationError

from rag_app.answering import AnswerStream, answer_dict, checked_answer, start_answer
from rag_app.config import AnswerConfig, CitationCheckConfig, JudgeConfig
from rag_app.generation.abstain import (
    ABSTAIN_MESSAGE,
    answerable_probability,
    best_relevance,
    is_refusal,
    judge_messages,
    should_abstain,
)
from rag_app.generation.support import check_citations, split_claims, support
from rag_app.generation.templates import load_template
from rag_app.protocols import ChoiceScorer
from rag_app.types import Chunk, Message, ScoredChunk
from tests.support.fake_generator import CannedGenerator

BPE = "GPT-2 uses a byte-level BPE vocabulary of 50,257 tokens."
LORA = "LoRA freezes the pretrained weights and adds trainable low-rank matrices A and B to each layer."


def source(n: int, text: str, **scores: float) -> ScoredChunk:
    return ScoredChunk(Chunk(f"d{n}:0", f"d{n}", f"d{n}.md", text), 1.0 - n / 10, dict(scores))


SOURCES = [source(1, BPE), source(2, LORA)]


# --- support of one claim by one source ---------------------------------------------------------


def test_a_corrupted_number_is_not_supported_whatever_else_matches() -> None:
    assert support("GPT-2 has a vocabulary of 5027 tokens", BPE).missing_numbers == ("5027",)
    assert support("GPT-2 has a vocabulary of 50257 tokens", BPE).missing_numbers == ()
    assert support("GPT-2's vocabulary has 50,257 tokens", BPE).passes(0.5)


def test_overlap_counts_stemmed_content_words_only() -> None:
    assert support("LoRA freezes the pretrained weights.", LORA).overlap == 1.0
    assert support("LoRA freezing pretrained weight", LORA).overlap == 1.0  # stems, not spellings
    assert support("Dropout randomly zeroes activations during training", LORA).overlap < 0.2


def test_sentences_split_with_trailing_markers_kept() -> None:
    text = "First fact. [1] Second fact [2].\n- third item\n\nLast one?"
    assert [text[a:b] for a, b in split_claims(text)] == ["First fact. [1]", "Second fact [2].", "- third item",
                                                          "Last one?"]


def test_a_span_of_markers_alone_joins_a_sentence_instead_of_standing_as_one() -> None:
    # the model's trailing "[2]" after the last sentence, and a list label "[3]." before one
    end = "First fact. Second fact. [2]"
    assert [end[a:b] for a, b in split_claims(end)] == ["First fact.", "Second fact. [2]"]
    own_line = "A fact here.\n[1]"
    assert [own_line[a:b] for a, b in split_claims(own_line)] == ["A fact here.\n[1]"]
    label = "[2] One fact.\n[3]. Another fact here."
    assert [label[a:b] for a, b in split_claims(label)] == ["[2] One fact.", "[3]. Another fact here."]
    assert [(a, b) for a, b in split_claims("[1]")] == [(0, 3)]  # nothing to join: kept


# --- checking a whole answer --------------------------------------------------------------------


def test_an_unsupported_citation_is_removed_and_the_supporting_source_attached() -> None:
    checked = check_citations("GPT-2 has 50,257 byte-level tokens [2].", SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == "GPT-2 has 50,257 byte-level tokens [1]."
    assert checked.unsupported == [2] and checked.added == {1}
    assert checked.claims[0].supported is True and checked.claims[0].citations == [1]


def test_a_trailing_marker_is_checked_against_the_sentence_before_it() -> None:
    # "... [1]. [2]": source 2 (LoRA) says nothing about the vocabulary, so it goes; before, a marker
    # standing alone was a "sentence" with nothing to check and the reader saw an unchecked [2]
    checked = check_citations("GPT-2 has 50,257 byte-level tokens [1]. [2]", SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == "GPT-2 has 50,257 byte-level tokens [1]."
    assert checked.unsupported == [2] and all(c.text for c in checked.claims)
    moved = check_citations("GPT-2 has 50,257 byte-level tokens.\n[2]", SOURCES, min_overlap=0.5, attach=True)
    assert moved.text == "GPT-2 has 50,257 byte-level tokens [1]."
    kept = check_citations("GPT-2 has 50,257 byte-level tokens. [1]", SOURCES, min_overlap=0.5, attach=True)
    assert kept.text == "GPT-2 has 50,257 byte-level tokens. [1]"  # a supported citation is left as written


def test_an_unsupported_leading_marker_goes_with_its_full_stop() -> None:
    checked = check_citations("[2]. GPT-2 has 5027 byte-level tokens.", SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == "GPT-2 has 5027 byte-level tokens."


def test_a_sentence_pointing_at_sources_is_checked_against_the_claim_before_it() -> None:
    text = "GPT-2 has 50,257 byte-level tokens [1]. This is stated in [1] and [2]."
    checked = check_citations(text, SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == "GPT-2 has 50,257 byte-level tokens [1]."  # [1] already cited there, [2] wrong
    assert checked.unsupported == [2] and [c.text for c in checked.claims] == ["GPT-2 has 50,257 byte-level tokens."]
    wrong = check_citations("GPT-2 has 50,257 byte-level tokens [1]. The source for this is [2]. Next one.",
                            SOURCES, min_overlap=0.5, attach=False)
    assert wrong.text == "GPT-2 has 50,257 byte-level tokens [1]. Next one."  # nothing left to point at: dropped
    first = check_citations("Here is what the sources say [2]:", SOURCES, min_overlap=0.5, attach=True)
    assert first.text == "Here is what the sources say [2]:"  # no claim before it: left as written
    sums = check_citations("The dot product is:\n[1] 1 * 4 + 2 * 5 = 14.", SOURCES, min_overlap=0.5, attach=True)
    assert "1 * 4 + 2 * 5 = 14" in sums.text  # figures are not a pointer: never dropped


def test_a_pointer_sentence_with_words_about_sources_only_goes_into_the_claim_before_it() -> None:
    vocab = source(3, "LLaMA 1 and LLaMA 2 use a SentencePiece vocabulary of 32,000 tokens.")
    sources = [*SOURCES, vocab, source(4, "Meta trained LLaMA 2 with a vocabulary of 32,000 tokens.")]
    husk = check_citations("The vocabulary has 32,000 tokens [3]. The source number for this fact is [3].",
                           sources, min_overlap=0.5, attach=True)
    assert husk.text == "The vocabulary has 32,000 tokens [3]."
    page = check_citations("GPT-2 has 50,257 byte-level tokens [1]. This is mentioned in [2] on page 3 of the article.",
                           sources, min_overlap=0.5, attach=True)
    assert page.text == "GPT-2 has 50,257 byte-level tokens [1]." and page.unsupported == [2]
    folded = check_citations("The vocabulary has 32,000 tokens [3]. This can be found in sources [2] and [4].",
                             sources, min_overlap=0.5, attach=True)
    assert folded.text == "The vocabulary has 32,000 tokens [3, 4]."  # the model's [4] holds: it moves
    assert folded.claims[-1].citations == [3, 4] and folded.unsupported == [2]
    dangling = check_citations("LLaMA 2 uses a vocabulary of 32,000 tokens, which are sources [3] and [2].",
                               sources, min_overlap=0.5, attach=True)
    assert dangling.text == "LLaMA 2 uses a vocabulary of 32,000 tokens, which are sources [3]."  # not "[3] and."
    label = check_citations("SentencePiece has 32,000 tokens [3].\n[2] 1. LoRA freezes the pretrained weights [2].",
                            sources, min_overlap=0.5, attach=True)
    assert "[2] 1. LoRA" in label.text and "[3, 2]" not in label.text  # a list label is not a pointer


def test_specific_figures_found_in_the_source_need_half_the_word_overlap() -> None:
    example = source(1, "Example with logits (2, 1, 0). At T = 1 the probabilities are 0.665, 0.245 and 0.090.")
    claim = "The softmax function gives the probabilities 0.665, 0.245 and 0.090 for the logits (2, 1, 0)."
    verdict = support(claim, example.chunk.text)
    assert verdict.overlap < 0.5 and verdict.specific_numbers == 3 and verdict.passes(0.5)
    plain = support("The softmax function gives the probabilities for logits 2 and 1.", example.chunk.text)
    assert plain.specific_numbers == 0 and not plain.passes(0.5)  # 2 and 1 prove nothing
    wrong = support("The softmax function gives the probabilities 0.665 and 0.3 for the logits.", example.chunk.text)
    assert wrong.missing_numbers == ("0.3",) and not wrong.passes(0.5)


def test_without_attach_the_claim_is_left_uncited_and_flagged() -> None:
    checked = check_citations("GPT-2 has 5027 byte-level tokens [1].", SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == "GPT-2 has 5027 byte-level tokens."  # no source has 5027: nothing attached
    assert checked.claims[0].supported is False and checked.unsupported == [1]
    plain = check_citations("LoRA adds trainable low-rank matrices.", SOURCES, min_overlap=0.5, attach=False)
    assert plain.text == "LoRA adds trainable low-rank matrices." and plain.claims[0].supported is None


def test_an_uncited_sentence_no_source_supports_is_flagged_when_every_source_was_tried() -> None:
    text = "GPT-2 has 50,257 byte-level tokens [1]. It was released by pirates in 1850."
    checked = check_citations(text, SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == text  # nothing to attach: the sentence stays as written
    assert [(c.text, c.supported) for c in checked.claims] == [
        ("GPT-2 has 50,257 byte-level tokens.", True), ("It was released by pirates in 1850.", False)]
    unchecked = check_citations(text, SOURCES, min_overlap=0.5, attach=False)
    assert [c.supported for c in unchecked.claims] == [True, None]


def test_an_uncited_unsupported_sentence_alone_is_flagged_but_not_an_abstention() -> None:
    """It may be a correct answer worded apart from its source: shown as unsupported, not refused."""
    text = "The top token gets a probability of approximately 0.867, as shown in the second source."
    answer = checked_answer(text, SOURCES, AnswerConfig(abstain_unsupported=True))
    assert not answer.abstained and answer.text == text
    assert [(c.supported, c.cited) for c in answer.claims] == [(False, False)]


def test_supported_citations_are_kept_in_place_and_untouched_text_is_byte_identical() -> None:
    text = "LoRA freezes the pretrained weights [2] and GPT-2 has 50,257 tokens [1].\n\nHere is why:"
    checked = check_citations(text, SOURCES, min_overlap=0.5, attach=True)
    assert checked.text == text and checked.unsupported == [] and checked.supported == {1, 2}


def test_checked_answer_marks_citations_and_reports_refusals() -> None:
    config = AnswerConfig()
    answer = checked_answer("LoRA freezes pretrained weights [2]. Invented claim about pirates [1].", SOURCES, config)
    assert [(c.number, c.supported) for c in answer.citations] == [(2, True)]
    assert answer.unsupported_citations == [1] and not answer.abstained
    refusal = checked_answer("The sources do not contain the answer to this question.", SOURCES, config)
    assert refusal.abstained and refusal.abstain_reason == "model"
    off = checked_answer("Invented claim about pirates [1].", SOURCES, AnswerConfig(citations=CitationCheckConfig(
        check=False)))
    assert [c.number for c in off.citations] == [1] and off.citations[0].supported is None


def test_an_answer_with_no_supported_sentence_becomes_an_abstention_when_asked() -> None:
    invented = "Invented claim about pirates [1]. Parrots sail the seven seas."
    config = AnswerConfig(abstain_unsupported=True)
    answer = checked_answer(invented, SOURCES, config)
    assert answer.abstained and answer.abstain_reason == "unsupported"
    assert answer.text == ABSTAIN_MESSAGE and answer.raw_text == invented  # what was written stays on record
    assert not checked_answer(invented, SOURCES, AnswerConfig()).abstained  # off by default
    # one supported sentence is enough to answer; so is a reply with nothing checkable in it
    mixed = checked_answer("LoRA freezes pretrained weights [2]. Invented claim about pirates [1].", SOURCES, config)
    assert not mixed.abstained and [c.number for c in mixed.citations] == [2]
    assert not checked_answer("Yes.", SOURCES, config).abstained


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("The sources do not mention the learning rate used for GPT-4.", True),
        ("I don't know.", True),
        ("This information is not provided in the sources.", True),
        ("LoRA freezes the pretrained weights [2].", False),
        ("Dropout does not change the model at inference time [1].", False),
    ],
)
def test_refusals_are_recognised(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


def test_a_refusal_phrase_inside_a_supported_answer_is_not_an_abstention() -> None:
    answer = checked_answer("Dropout does not change LoRA frozen pretrained weights [2].", SOURCES, AnswerConfig())
    assert not answer.abstained


# --- retrieval floor ----------------------------------------------------------------------------


def test_the_floor_reads_dense_similarity_not_fused_scores() -> None:
    fused = [source(1, BPE, dense=0.12, bm25=9.0), source(2, LORA, bm25=4.0)]
    assert best_relevance(fused, dense=True) == pytest.approx(0.12)
    assert should_abstain(fused, 0.25, dense=True)
    # hits found by BM25 alone carry no evidence of relevance when the pipeline also retrieves densely
    bm25_only = [replace(h, score=0.9) for h in (source(1, BPE, bm25=9.0), source(2, LORA, bm25=4.0))]
    assert best_relevance(bm25_only, dense=True) == -math.inf and should_abstain(bm25_only, 0.25, dense=True)
    # ...but a BM25-only pipeline compares its own final score
    assert not should_abstain(bm25_only, 0.25, dense=False)
    assert not should_abstain(bm25_only, None, dense=True) and should_abstain([], None)


# --- the judge ----------------------------------------------------------------------------------


class Judge(CannedGenerator):
    """A canned generator that also scores Yes/No with fixed log-probabilities."""

    def __init__(self, p_yes: float, reply: str = "LoRA freezes the pretrained weights [2].") -> None:
        super().__init__(reply)
        self.p_yes = p_yes
        self.judged: list[list[Message]] = []
        self.streamed = 0

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        self.judged.extend(list(c) for c in conversations)
        yes, no = math.log(self.p_yes), math.log(1 - self.p_yes)
        return [[yes if c.lower() == "yes" else no for c in choices] for _ in conversations]

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.streamed += 1
        yield from super().stream(messages, max_tokens=max_tokens, stop=stop)


def _start(generator: CannedGenerator, config: AnswerConfig, hits: list[ScoredChunk] | None = None) -> AnswerStream:
    return start_answer(
        "What does LoRA freeze?", history=[], search=lambda q, k, f: list(SOURCES if hits is None else hits),
        top_k=None, filters=[], generator=generator, template=load_template("grounded"), config=config,
        hosted=False, dense=True,
    )


def test_the_judge_prompt_extends_the_answer_prompt() -> None:
    messages = [Message("system", "s"), Message("user", "Sources: ... Question: q")]
    judged = judge_messages(messages, "Answer Yes or No.")
    assert judged[0] == messages[0] and judged[1].content.startswith(messages[1].content)
    assert judged[1].content.endswith("Answer Yes or No.")


def test_a_low_judge_probability_abstains_without_generating() -> None:
    generator = Judge(p_yes=0.1)
    assert isinstance(generator, ChoiceScorer)
    stream = _start(generator, AnswerConfig(judge=JudgeConfig(threshold=0.5)))
    assert stream.abstained and list(stream) == [ABSTAIN_MESSAGE]
    answer = stream.result()
    assert answer.abstained and answer.abstain_reason == "judge" and answer.answerable == pytest.approx(0.1)
    assert generator.streamed == 0 and len(generator.judged) == 1
    assert answer.sources  # the passages that were judged stay visible
    assert "judge" in answer.timings


def test_a_high_judge_probability_answers_with_checked_citations() -> None:
    generator = Judge(p_yes=0.9)
    stream = _start(generator, AnswerConfig(judge=JudgeConfig(threshold=0.5)))
    assert not stream.abstained
    assert "".join(stream) == "LoRA freezes the pretrained weights [2]."
    answer = stream.result()
    assert answer.answerable == pytest.approx(0.9) and [c.number for c in answer.citations] == [2]
    assert generator.streamed == 1
    # the judge read the answer prompt plus the cue (a prefix the generator's prompt cache can reuse)
    answer_prompt = generator.calls[-1]
    assert generator.judged[0][-1].content.startswith(answer_prompt[-1].content)


@pytest.mark.parametrize(("p_yes", "caution", "flagged"), [(0.6, 0.7, True), (0.75, 0.7, False), (0.6, None, False)])
def test_an_answer_the_judge_barely_lets_through_is_flagged_low_confidence(
    p_yes: float, caution: float | None, flagged: bool
) -> None:
    stream = _start(Judge(p_yes=p_yes), AnswerConfig(judge=JudgeConfig(threshold=0.5, caution=caution)))
    assert "".join(stream) == "LoRA freezes the pretrained weights [2]."  # answered either way
    answer = stream.result()
    assert not answer.abstained and answer.low_confidence is flagged
    assert answer_dict(answer)["low_confidence"] is flagged


def test_a_refused_answer_is_not_also_low_confidence() -> None:
    stream = _start(Judge(p_yes=0.4), AnswerConfig(judge=JudgeConfig(threshold=0.5, caution=0.7)))
    answer = stream.result()
    assert answer.abstained and answer.abstain_reason == "judge" and not answer.low_confidence


def test_a_caution_below_the_threshold_is_a_one_line_config_error() -> None:
    with pytest.raises(ValidationError) as err:
        JudgeConfig(threshold=0.74, caution=0.6)
    (problem,) = err.value.errors()
    assert "answer.judge.caution (0.6) is below threshold (0.74)" in problem["msg"]
    assert "\n" not in problem["msg"]


def test_a_generator_without_logprobs_is_judged_by_its_reply() -> None:
    assert answerable_probability(CannedGenerator("Yes."), [Message("user", "q")], "Yes or No?") == 1.0
    assert answerable_probability(CannedGenerator("no"), [Message("user", "q")], "Yes or No?") == 0.0
    assert answerable_probability(CannedGenerator("[1]"), [Message("user", "q")], "Yes or No?") is None  # no verdict


def test_no_verdict_from_the_judge_answers_instead_of_refusing() -> None:
    stream = _start(CannedGenerator("LoRA freezes the pretrained weights [2]."), AnswerConfig(judge=JudgeConfig()))
    assert not stream.abstained and stream.result().answerable is None


def test_the_floor_abstains_before_the_judge_runs() -> None:
    generator = Judge(p_yes=0.9)
    far = [source(1, BPE, dense=0.05)]
    stream = _start(generator, AnswerConfig(min_score=0.2, judge=JudgeConfig()), hits=far)
    assert stream.result().abstain_reason == "min_score" and generator.judged == []


# --- the stream ---------------------------------------------------------------------------------


class Pieces(CannedGenerator):
    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.generate(messages)
        yield from ["", "LoRA freezes ", "the pretrained weights ", "[2]", "."]


def test_result_after_iterating_keeps_the_streamed_answer() -> None:
    stream = _start(Pieces(""), AnswerConfig())
    assert "".join(stream) == "LoRA freezes the pretrained weights [2]."
    answer = stream.result()
    assert answer is stream.answer and answer.text == "LoRA freezes the pretrained weights [2]."
    assert [c.number for c in answer.citations] == [2]
    assert list(stream) == [] and stream.result() is answer  # finished once
    assert 0 < answer.timings["first_token"] <= answer.timings["generate"]
