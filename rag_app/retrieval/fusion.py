"""Fusing ranked lists from several retrievers into one.

Both methods are a few lines of arithmetic over ranks or scores; a fusion
library (ranx) would need the lists converted to and from its run format on
every query, which costs more than the fusion itself. So they are written
here, with the formulas from the papers:

* RRF (Cormack et al., 2009): ``score(d) = sum_i w_i / (k + rank_i(d))``.
* Weighted score fusion: each list's scores min-max normalised to [0, 1],
  then ``score(d) = sum_i w_i * norm_i(d)``; absent from a list counts 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag_app.types import Chunk, ScoredChunk


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[ScoredChunk]], weights: Sequence[float], k: float = 60.0
) -> list[ScoredChunk]:
    """RRF over ranked lists (rank starts at 1)."""
    scores: dict[str, float] = {}
    for hits, weight in zip(lists, weights, strict=True):
        for rank, hit in enumerate(hits, 1):
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + weight / (k + rank)
    return _merge(lists, scores)


def weighted_score_fusion(
    lists: Sequence[Sequence[ScoredChunk]], weights: Sequence[float]
) -> list[ScoredChunk]:
    """Min-max normalised, weighted sum of scores."""
    scores: dict[str, float] = {}
    for hits, weight in zip(lists, weights, strict=True):
        if not hits:
            continue
        for hit, norm in zip(hits, min_max([h.score for h in hits]), strict=True):
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + weight * norm
    return _merge(lists, scores)


def min_max(values: Sequence[float]) -> list[float]:
    """Scale ``values`` to [0, 1]; all-equal values become 1.0 (they are all the best)."""
    low, high = min(values), max(values)
    span = high - low
    return [(v - low) / span if span > 0 else 1.0 for v in values]


def _merge(lists: Sequence[Sequence[ScoredChunk]], fused: dict[str, float]) -> list[ScoredChunk]:
    """Attach fused scores, keep each retriever's own score, sort deterministically."""
    chunks: dict[str, Chunk] = {}
    components: dict[str, dict[str, float]] = {}
    for hits in lists:
        for hit in hits:
            chunks.setdefault(hit.chunk.chunk_id, hit.chunk)
            components.setdefault(hit.chunk.chunk_id, {}).update(hit.scores)
    merged = [
        replace(ScoredChunk(chunks[cid], score), scores=components[cid]) for cid, score in fused.items()
    ]
    merged.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
    return merged
