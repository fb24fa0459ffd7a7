"""Answering "not in the documents" without calling the generator."""

from __future__ import annotations

from collections.abc import Sequence

from rag_app.types import ScoredChunk

ABSTAIN_MESSAGE = "The documents I have do not contain an answer to that."


def should_abstain(hits: Sequence[ScoredChunk], min_score: float | None) -> bool:
    """True when nothing was retrieved, or the best score is below ``min_score``.

    ``min_score`` is in the retriever's own score scale (cosine similarity for
    dense search, fused scores for hybrid): calibrate it per pipeline. None
    abstains only on an empty result.
    """
    if not hits:
        return True
    if min_score is None:
        return False
    return max(h.score for h in hits) < min_score
