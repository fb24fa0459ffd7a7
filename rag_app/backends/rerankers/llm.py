"""Reranking with the pipeline's own generator as a relevance judge.

Implements the ``Reranker`` protocol::

    class Reranker(Protocol):
        name: str
        def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...

Two ways to score a ``(query, passage)`` pair:

* ``logprob``: the prompt ``relevance_yes_no`` asks "Is this passage relevant
  to the question? Answer Yes or No." and the score is
  ``P(yes) / (P(yes) + P(no))`` from the next-token distribution (both cases
  of each word summed). Needs a generator with ``choice_logprobs`` (the local
  ``hf_local`` one); no text is generated, one forward pass per batch.
* ``score``: the prompt ``relevance_score`` asks for a 0-10 rating and the
  first number of the reply is the score (works with any generator). A reply
  without a number in 0-10 scores 0 and logs a warning.

``auto`` (the default) picks ``logprob`` when the generator supports it. Only
the first ``depth`` incoming hits are scored; the others follow them in their
incoming order, their scores shifted below the lowest scored hit so that
sorting by score keeps that order. The generator is the pipeline's own
(``build_pipeline`` passes it in); without one, building fails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_app.errors import ConfigError
from rag_app.generation.templates import PromptTemplate, load_task_template
from rag_app.generation.yes_no import CHOICES, yes_share
from rag_app.protocols import ChoiceScorer, Generator
from rag_app.retrieval.rerank import rerank_head
from rag_app.types import Message, ScoredChunk

logger = logging.getLogger(__name__)

_TEMPLATES = {"logprob": "relevance_yes_no", "score": "relevance_score"}
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)")
MAX_RATING = 10.0


class LLMReranker:
    """Scores each (query, chunk) pair with the configured generator."""

    name = "llm"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        method: Literal["auto", "logprob", "score"] = Field(
            default="auto", description="logprob: P(Yes) vs P(No); score: a 0-10 rating; auto: logprob if supported"
        )
        depth: int = Field(default=10, gt=0, le=1000, description="how many of the best incoming hits are scored")
        batch_size: int = Field(
            default=8, gt=0, le=256, description="pairs per forward pass (logprob) or requests in flight (score)"
        )
        max_passage_chars: int = Field(default=1500, gt=0, description="longer chunk texts are cut for the prompt")
        max_tokens: int = Field(default=6, gt=0, description="reply length cap for method score")
        template: str | None = Field(
            default=None, description="task template name or .txt path (default: relevance_yes_no / relevance_score)"
        )
        blend: float = Field(
            default=0.0, ge=0, le=1, description="weight of the previous stage's score (both min-max normalised)"
        )

    def __init__(
        self, params: Params, *, generator: Generator | None = None, base_dir: Path | None = None, **_: object
    ) -> None:
        if generator is None:
            raise ConfigError("reranker 'llm' needs a generator; add a `generator:` block to the config")
        scorer = isinstance(generator, ChoiceScorer)
        if params.method == "logprob" and not scorer:
            raise ConfigError(
                f"reranker 'llm' method 'logprob' needs a generator that exposes next-token probabilities "
                f"(hf_local); {generator.name!r} does not: use method 'score'"
            )
        self.method: Literal["logprob", "score"] = (
            ("logprob" if scorer else "score") if params.method == "auto" else params.method
        )
        self._params = params
        self._generator = generator
        self._template: PromptTemplate = load_task_template(
            params.template or _TEMPLATES[self.method],
            ("question", "passage"),
            required=("question", "passage"),
            base_dir=base_dir,
        )
        self.pairs_scored = 0

    def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        ties: Literal["chunk_id", "input"] = "chunk_id" if self.method == "logprob" else "input"
        return rerank_head(
            hits, top_k, lambda head: self._score(query, head),
            depth=self._params.depth, blend=self._params.blend, ties=ties,
        )

    def _score(self, query: str, head: list[ScoredChunk]) -> list[float]:
        conversations = [self._messages(query, hit.chunk.text) for hit in head]
        scores = self._logprob_scores(conversations) if self.method == "logprob" else self._rated_scores(conversations)
        self.pairs_scored += len(head)
        return scores

    def _messages(self, query: str, text: str) -> list[Message]:
        passage = " ".join(text.split())
        if len(passage) > self._params.max_passage_chars:
            passage = passage[: self._params.max_passage_chars].rsplit(" ", 1)[0] + " …"
        fields = {"question": query.strip(), "passage": passage}
        return self._template.messages(fields)

    def _logprob_scores(self, conversations: list[list[Message]]) -> list[float]:
        assert isinstance(self._generator, ChoiceScorer)
        rows = self._generator.choice_logprobs(conversations, CHOICES, batch_size=self._params.batch_size)
        return [yes_share(row) for row in rows]

    def _rated_scores(self, conversations: list[list[Message]]) -> list[float]:
        def rate(messages: list[Message]) -> float:
            reply = self._generator.generate(messages, max_tokens=self._params.max_tokens).text
            rating = parse_rating(reply)
            if rating is None:
                logger.warning("reranker 'llm': no 0-10 rating in the reply %r; scoring it 0", reply[:80])
                return 0.0
            return rating

        workers = min(self._params.batch_size, len(conversations))
        if workers <= 1:
            return [rate(c) for c in conversations]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-rerank") as pool:
            return list(pool.map(rate, conversations))


def parse_rating(reply: str) -> float | None:
    """The first number in ``reply`` when it lies in 0-10 (``"8"``, ``"Score: 7/10"``, ``"**9.5**"``), else None."""
    match = _NUMBER.search(reply)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= MAX_RATING else None
