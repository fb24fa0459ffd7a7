"""Grounded answers: retrieve, build a numbered-source prompt, stream, check citations.

``AnswerStream`` is what UIs consume: its ``sources`` are known before the
first token, iterating it yields text as the model produces it, and when the
iteration ends ``answer`` holds the final :class:`~rag_app.types.Answer`
(citations parsed and checked, invalid ``[n]`` removed, timings, usage).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag_app.config import AnswerConfig
from rag_app.generation.abstain import ABSTAIN_MESSAGE, should_abstain
from rag_app.generation.citations import parse_citations
from rag_app.generation.condense import condense_question
from rag_app.generation.prompt import build_messages, source_location
from rag_app.generation.templates import PromptTemplate
from rag_app.protocols import Generator
from rag_app.types import Answer, Filter, Message, ScoredChunk

SearchFn = Callable[[str, int | None, Sequence[Filter]], list[ScoredChunk]]


@dataclass
class AnswerStream:
    """One answer in progress. Iterate it for text; read ``answer`` afterwards."""

    question: str
    standalone_question: str
    sources: list[ScoredChunk]
    abstained: bool
    _pieces: Iterator[str]
    _finish: Callable[[str, float | None], Answer]
    answer: Answer | None = None
    _started: float = field(default_factory=time.perf_counter)

    def __iter__(self) -> Iterator[str]:
        collected: list[str] = []
        first: float | None = None
        for piece in self._pieces:
            if first is None:
                first = time.perf_counter()
            collected.append(piece)
            yield piece
        self.answer = self._finish("".join(collected), first)

    def result(self) -> Answer:
        """Consume the rest of the stream and return the final answer."""
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer


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
) -> AnswerStream:
    """Retrieve and prepare the prompt; generation starts when the stream is iterated."""
    t0 = time.perf_counter()
    condense = config.condense_history if config.condense_history is not None else hosted
    standalone = condense_question(question, history, generator) if condense and history else question
    t_condense = time.perf_counter()
    hits = search(standalone, top_k, filters)
    t_retrieve = time.perf_counter()
    timings = {"retrieve": t_retrieve - t_condense}
    if condense and history:
        timings["condense"] = t_condense - t0

    if should_abstain(hits, config.min_score):

        def finish_abstain(text: str, first: float | None) -> Answer:
            timings["total"] = time.perf_counter() - t0
            return Answer(text=text, sources=[], abstained=True, timings=timings)

        return AnswerStream(question, standalone, [], True, iter([ABSTAIN_MESSAGE]), finish_abstain)

    messages, used = build_messages(
        standalone,
        hits,
        history=history,
        template=template,
        count_tokens=generator.count_tokens,
        context_budget_tokens=config.context_budget_tokens,
    )
    prompt_tokens = sum(generator.count_tokens(m.content) for m in messages)
    t_prompt = time.perf_counter()

    def finish(text: str, first: float | None) -> Answer:
        end = time.perf_counter()
        clean, citations, invalid = parse_citations(text, used)
        timings["first_token"] = (first or end) - t_prompt
        timings["generate"] = end - t_prompt
        timings["total"] = end - t0
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": generator.count_tokens(text)}
        return Answer(clean, citations, used, invalid, False, timings, usage)

    pieces = generator.stream(messages, max_tokens=config.max_tokens)
    return AnswerStream(question, standalone, used, False, pieces, finish)


def answer_dict(answer: Answer) -> dict[str, Any]:
    """The JSON shape of an answer (also used by the HTTP API)."""
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [
            {"number": c.number, "chunk_id": c.chunk.chunk_id, "source": c.chunk.source, "score": c.score}
            for c in answer.citations
        ],
        "invalid_citations": answer.invalid_citations,
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
    }
