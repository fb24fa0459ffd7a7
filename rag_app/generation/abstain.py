"""Answering "not in the documents" without calling the generator."""

from __future__ import annotations

from collections.abc import Sequence

from rag_app.types import ScoredChunk

ABSTAIN_MESSAGE = "The documents I have do not contain an answer to that."


def should_abstain(hits: Sequence[ScoredChunk], min_score: float | None) -> bool:
    """True when nothing was retrieved, or the best relevance score is below ``min_score``.

    Fused scores (RRF, min-max weighted) say how candidates rank against each
    other, not whether any is relevant, so when a dense retriever contributed,
    its own score (cosine similarity for normalised embeddings) is compared;
    otherwise the final score. None abstains only on an empty result.
    """
    if not hits:
        return True
    if min_score is None:
        return False
    return max(relevance(h) for h in hits) < min_score


def relevance(hit: ScoredChunk) -> float:
    """The dense similarity of a hit when known, else its final score."""
    return hit.scores.get("dense", hit.score)
