"""Grounded answers: retrieve, build a numbered-source prompt, stream, check citations.

``AnswerStream`` is what UIs consume: its ``sources`` are known before the
first token, iterating it yields text as the model produces it, and when the
iteration ends ``answer`` holds the final :class:`~rag_app.types.Answer`
(citations parsed and checked, invalid ``[n]`` removed, timings, usage).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rag_app.config import AnswerConfig
from rag_app.generation.abstain import ABSTAIN_MESSAGE, answerable_probability, is_refusal, should_abstain
from rag_app.generation.citations import parse_citations
from rag_app.generation.condense import condense_question
from rag_app.generation.prompt import build_messages, source_location
from rag_app.generation.support import check_citations
from rag_app.generation.templates import PromptTemplate
from rag_app.protocols import Generator
from rag_app.types import Answer, Claim, Filter, GenerationResult, Message, ScoredChunk

SearchFn = Callable[[str, int | None, Sequence[Filter]], list[ScoredChunk]]

CUT_SHORT = "the answer stopped at its length limit; raise answer.max_tokens (or the generator's own) for more"
"""What the CLI and the UI say under an answer whose ``finish_reason`` is ``length``."""


@dataclass
class AnswerStream:
    """One answer in progress. Iterate it for text; read ``answer`` afterwards."""

    question: str
    standalone_question: str
    sources: list[ScoredChunk]
    abstained: bool
    _pieces: Iterator[str]
    _finish: Callable[[str, float | None, GenerationResult | None], Answer]
    answer: Answer | None = None
    _started: float = field(default_factory=time.perf_counter)

    def __iter__(self) -> Iterator[str]:
        if self.answer is not None:  # already consumed: iterating again yields nothing, changes nothing
            return
        collected: list[str] = []
        first: float | None = None
        while True:
            try:
                piece = next(self._pieces)
            except StopIteration as end:  # a generator's stream returns its GenerationResult (or None)
                result = end.value if isinstance(end.value, GenerationResult) else None
                break
            if first is None and piece:
                first = time.perf_counter()
            collected.append(piece)
            yield piece
        self.answer = self._finish("".join(collected), first, result)

    def result(self) -> Answer:
        """Consume the rest of the stream (if any) and return the final answer.

        Safe after a full iteration: the answer is finished exactly once, from the
        text that was streamed, so callers that print pieces and then ask for the
        result get the same citations, timings and text.
        """
        if self.answer is None:
            for _ in self:
                pass
        assert self.answer is not None
        return self.answer

    def close(self) -> None:
        """Stop generating: close the model's stream (generators cancel on close); ``answer`` stays unset.

        Call it when the consumer goes away (a client that disconnects). It must not
        run while another thread is inside an iteration step of this stream.
        """
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def start_answer(
    question: str,
    *,
    history: Sequence[Message],
    search: SearchFn,
    top_k: int | None,
    filters: Sequence[Filter],
    generator: Generator,
    template: PromptTemplate,
    config: AnswerConfig,
    hosted: bool,
    dense: bool = False,
) -> AnswerStream:
    """Retrieve, prepare the prompt and decide whether to answer; generation starts when iterated.

    ``dense`` says whether the pipeline retrieves densely (the retrieval floor then
    reads dense similarities only, see ``rag_app.generation.abstain``).
    """
    t0 = time.perf_counter()
    condense = config.condense_history if config.condense_history is not None else hosted
    standalone = condense_question(question, history, generator) if condense and history else question
    t_condense = time.perf_counter()
    hits = search(standalone, top_k, filters)
    t_retrieve = time.perf_counter()
    timings = {"retrieve": t_retrieve - t_condense}
    if condense and history:
        timings["condense"] = t_condense - t0

    if should_abstain(hits, config.min_score, dense=dense):
        return _abstention(question, standalone, [], "no_hits" if not hits else "min_score", timings, t0, None)

    messages, used = build_messages(
        standalone,
        hits,
        history=history,
        template=template,
        count_tokens=generator.count_tokens,
        context_budget_tokens=config.context_budget_tokens,
        excerpt_tokens=config.excerpt_tokens,
    )
    # Counting the prompt's tokens is the generator's first use: a local model loads here once.
    timings["prompt"] = time.perf_counter() - t_retrieve
    answerable: float | None = None
    if config.judge is not None:
        t_judge = time.perf_counter()
        answerable = answerable_probability(generator, messages, config.judge.cue)
        timings["judge"] = time.perf_counter() - t_judge
        if answerable is not None and answerable < config.judge.threshold:
            return _abstention(question, standalone, used, "judge", timings, t0, answerable)
    t_prompt = time.perf_counter()

    def finish(text: str, first: float | None, result: GenerationResult | None) -> Answer:
        end = time.perf_counter()
        answer = checked_answer(text, used, config)
        timings["first_token"] = (first or end) - t_prompt
        timings["generate"] = end - t_prompt
        timings["total"] = end - t0
        answer.timings = timings
        if result is not None and result.prompt_tokens:
            answer.usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}
        else:  # the backend did not say: counted here with its tokenizer (an estimate for hosted models)
            answer.usage = {
                "prompt_tokens": sum(generator.count_tokens(m.content) for m in messages),
                "completion_tokens": generator.count_tokens(text),
            }
        answer.finish_reason = result.finish_reason if result is not None else None
        answer.answerable = answerable
        answer.low_confidence = low_confidence(answer, config)
        return answer

    pieces = generator.stream(messages, max_tokens=config.max_tokens)
    return AnswerStream(question, standalone, used, False, pieces, finish)


def checked_answer(text: str, sources: Sequence[ScoredChunk], config: AnswerConfig) -> Answer:
    """The answer for generated ``text``: citations resolved and checked, refusals recognised."""
    clean, citations, invalid = parse_citations(text, sources)
    answer = Answer(clean, citations, list(sources), invalid, raw_text=text)
    check = config.citations
    if check.check:
        result = check_citations(clean, sources, min_overlap=check.min_overlap, attach=check.attach)
        _, cited, _ = parse_citations(result.text, sources)
        answer.text = result.text
        answer.citations = [
            # supported: backs at least one checked sentence; None: cited only by sentences with nothing to check
            replace(c, supported=True if c.number in result.supported else None, added=c.number in result.added)
            for c in cited
        ]
        answer.claims = result.claims
        answer.unsupported_citations = result.unsupported
    if is_refusal(answer.text) and not any(c.supported for c in answer.citations):
        answer.abstained, answer.abstain_reason = True, "model"
    elif config.abstain_unsupported and check.check and nothing_supported(answer.claims):
        # The answer is kept in raw_text and claims (for the record); what the user is told is that
        # the documents do not say, since none of what was written could be traced to them.
        answer.abstained, answer.abstain_reason, answer.text = True, "unsupported", ABSTAIN_MESSAGE
    return answer


def low_confidence(answer: Answer, config: AnswerConfig) -> bool:
    """True for an answer the judge let through with P(answerable) below ``answer.judge.caution``."""
    judge = config.judge
    if answer.abstained or answer.answerable is None or judge is None or judge.caution is None:
        return False
    return answer.answerable < judge.caution


def nothing_supported(claims: Sequence[Claim]) -> bool:
    """True when some sentence could be checked and none is supported by a source.

    A sentence the model did not cite and no source supports is flagged to the reader but does not
    count here: on the 146 gold questions counting it refused one correct answer whose wording
    differed from its source ("approximately 0.867 ..., as shown in the second source") and caught
    no unanswerable question.
    """
    checked = [c for c in claims if c.supported is not None and (c.cited or c.supported)]
    return bool(checked) and not any(c.supported for c in checked)


def _abstention(
    question: str,
    standalone: str,
    sources: list[ScoredChunk],
    reason: str,
    timings: dict[str, float],
    t0: float,
    answerable: float | None,
) -> AnswerStream:
    """A stream that says "not in your documents" without generating."""

    def finish(text: str, first: float | None, result: GenerationResult | None) -> Answer:
        timings["total"] = time.perf_counter() - t0
        return Answer(
            text, sources=sources, abstained=True, timings=timings, abstain_reason=reason, answerable=answerable
        )

    return AnswerStream(question, standalone, sources, True, iter([ABSTAIN_MESSAGE]), finish)


def answer_dict(answer: Answer) -> dict[str, Any]:
    """The JSON shape of an answer (also used by the HTTP API)."""
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "answerable": answer.answerable,
        "low_confidence": answer.low_confidence,
        "citations": [
            {
                "number": c.number,
                "chunk_id": c.chunk.chunk_id,
                "source": c.chunk.source,
                "score": c.score,
                "supported": c.supported,
                "added": c.added,
            }
            for c in answer.citations
        ],
        "invalid_citations": answer.invalid_citations,
        "unsupported_citations": answer.unsupported_citations,
        "claims": [
            {"text": c.text, "citations": c.citations, "supported": c.supported, "support": c.support, "cited": c.cited}
            for c in answer.claims
        ],
        "sources": [
            {
                "number": i,
                "chunk_id": h.chunk.chunk_id,
                "source": h.chunk.source,
                "location": source_location(h),
                "score": h.score,
                "text": h.chunk.text,
            }
            for i, h in enumerate(answer.sources, 1)
        ],
        "timings": answer.timings,
        "usage": answer.usage,
        "finish_reason": answer.finish_reason,
    }
