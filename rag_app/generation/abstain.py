"""Deciding "not in your documents".

Three signals, cheapest first:

1. **Retrieval floor** (``answer.min_score``): nothing retrieved, or the best
   dense similarity below the floor. Fused scores (RRF, min-max weighted) say
   how candidates rank against each other, not whether any is relevant, so the
   dense retriever's own cosine is compared. When the pipeline retrieves
   densely but none of the final hits came from the dense list (all found by
   BM25 alone), there is no evidence of semantic relevance and the floor
   treats the result as below it. A floor alone cannot separate near-miss
   questions (same topic, answer absent) from answerable ones; keep it low.
2. **Judge** (``answer.judge``): the generator reads the same prompt as the
   answer, followed by "Do the sources contain the answer? Answer Yes or No",
   and ``P(Yes) / (P(Yes) + P(No))`` is read from its next-token
   distribution (one forward pass, no text generated; the llama.cpp backend
   reuses the shared prompt prefix for the answer). Below ``threshold`` the
   pipeline abstains without generating.
3. **The model's own refusal**: an answer that says the sources do not contain
   it (and cites nothing that supports a claim) is reported as an abstention.
4. **Nothing supported** (``answer.abstain_unsupported``): after the citation
   check, an answer none of whose checkable sentences is supported by a source
   is replaced by "not in your documents" (the generated text stays in
   ``Answer.raw_text``). Models asked about something the sources do not say
   tend to write it anyway, in words the sources do not contain.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

from rag_app.generation.yes_no import CHOICES, yes_share
from rag_app.protocols import ChoiceScorer, Generator
from rag_app.types import Message, ScoredChunk

logger = logging.getLogger(__name__)

ABSTAIN_MESSAGE = "The documents I have do not contain an answer to that."

# Why an answer is "not in your documents", one sentence per ``Answer.abstain_reason`` (CLI and UI).
ABSTAIN_REASONS = {
    "no_hits": "Nothing was retrieved for this question.",
    "min_score": "No retrieved passage was similar enough to the question (answer.min_score).",
    "judge": "The retrieved passages were judged not to answer this question (answer.judge).",
    "model": "The model found no answer in the retrieved passages.",
    "unsupported": "No sentence of the generated answer is supported by a retrieved passage "
    "(answer.abstain_unsupported).",
}

# What the CLI and UI say about an answer with ``Answer.low_confidence`` set.
LOW_CONFIDENCE = (
    "The passages may not fully answer this question (answer.judge.caution): "
    "check the cited sources before relying on it."
)

# How models say the sources do not answer (checked only on short replies).
_REFUSAL = re.compile(
    r"\b(?:do(?:es)?\s+not|don't|doesn't|cannot|can't|unable\s+to)\s+"
    r"(?:contain|mention|say|provide|include|specify|state|answer|find|know|determine|tell)"
    r"|\bnot\s+(?:mentioned|provided|specified|stated|included|contained|available|found|given)\b"
    r"|\bno\s+(?:information|mention|answer|details?)\b"
    r"|\bI\s+do\s+not\s+know\b|\bI\s+don't\s+know\b",
    re.IGNORECASE,
)
_MAX_REFUSAL_CHARS = 400


def should_abstain(hits: Sequence[ScoredChunk], min_score: float | None, *, dense: bool = False) -> bool:
    """True when nothing was retrieved, or the best relevance is below ``min_score``.

    Args:
        hits: The final retrieved chunks.
        min_score: The floor; None abstains only on an empty result.
        dense: Whether the pipeline has a dense retriever (then only dense scores count).
    """
    if not hits:
        return True
    if min_score is None:
        return False
    return best_relevance(hits, dense=dense) < min_score


def best_relevance(hits: Sequence[ScoredChunk], *, dense: bool = False) -> float:
    """The best dense similarity among ``hits``; their final score when no dense retriever ran.

    With a dense retriever in the pipeline, hits it did not return carry no
    dense score and are not evidence of relevance (``-inf`` when none has one).
    """
    scores = [h.scores["dense"] for h in hits if "dense" in h.scores]
    if scores:
        return max(scores)
    return -math.inf if dense else max(relevance(h) for h in hits)


def relevance(hit: ScoredChunk) -> float:
    """The dense similarity of a hit when known, else its final score."""
    return hit.scores.get("dense", hit.score)


def judge_messages(messages: Sequence[Message], cue: str) -> list[Message]:
    """The answer prompt with ``cue`` appended to its last (user) message.

    Appending rather than rewriting keeps the whole answer prompt a prefix of the
    judge prompt, so a backend with a prompt cache reads the sources only once.
    """
    *head, last = messages
    return [*head, Message(last.role, f"{last.content}\n\n{cue}")]


def answerable_probability(generator: Generator, messages: Sequence[Message], cue: str) -> float | None:
    """``P(Yes) / (P(Yes) + P(No))`` for ``cue`` after the answer prompt; None when there is no verdict.

    Generators with next-token log-probabilities (``ChoiceScorer``) are read
    directly; others generate a couple of tokens and the reply's first word
    decides (1.0 for yes, 0.0 for no). A reply that is neither, or log-probabilities
    in which neither answer appears, is no verdict: the question is answered (and a
    warning logged) rather than refused on a judge's failure.
    """
    conversation = judge_messages(messages, cue)
    if isinstance(generator, ChoiceScorer):
        row = generator.choice_logprobs([conversation], CHOICES, batch_size=1)[0]
        if max(row) == -math.inf:
            logger.warning("answerability judge: neither Yes nor No among the likely first tokens")
            return None
        return yes_share(row)
    reply = generator.generate(conversation, max_tokens=3).text.strip().lower()
    if reply.startswith("yes"):
        return 1.0
    if reply.startswith("no"):
        return 0.0
    logger.warning("answerability judge: reply %r is neither yes nor no; answering", reply[:40])
    return None


def is_refusal(text: str) -> bool:
    """True when a (short) answer says that the sources do not contain the answer."""
    return len(text) <= _MAX_REFUSAL_CHARS and _REFUSAL.search(text) is not None
