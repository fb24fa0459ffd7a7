"""Shared logic of the reranking stage (second pass over first-stage hits).

A reranker scores each ``(query, chunk)`` pair with a stronger model; this
module turns those scores into the stage's output, the same way for every
backend: the ``top_k`` hits sorted by score (ties by ``chunk_id``), each
hit's ``score`` replaced and its earlier per-stage ``scores`` kept, plus
``scores["rerank"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from rag_app.retrieval.fusion import min_max
from rag_app.types import ScoredChunk

STAGE = "rerank"


def apply_rerank_scores(
    hits: Sequence[ScoredChunk],
    scores: Sequence[float],
    top_k: int,
    *,
    blend: float = 0.0,
    ties: Literal["chunk_id", "input"] = "chunk_id",
) -> list[ScoredChunk]:
    """Re-sort ``hits`` by their rerank ``scores`` and keep the best ``top_k``.

    Args:
        hits: First-stage hits (their ``score`` is the previous stage's).
        scores: One rerank score per hit, same order.
        top_k: How many to return.
        blend: 0 keeps the raw rerank score as ``score``. Above 0, both the rerank
            scores and the previous scores are min-max normalised over ``hits``
            and ``score = (1 - blend) * rerank + blend * previous`` (in [0, 1]);
            ``scores["rerank"]`` always holds the raw rerank score.
        ties: Order of equal scores: by ``chunk_id``, or as in ``hits`` (for coarse
            scores such as a 0-10 rating, where ties are common).
    """
    if len(scores) != len(hits):
        raise ValueError(f"got {len(scores)} rerank scores for {len(hits)} hits")
    if not hits or top_k <= 0:
        return []
    raw = [float(s) for s in scores]
    final = raw
    if blend > 0:
        new, old = min_max(raw), min_max([h.score for h in hits])
        final = [(1.0 - blend) * n + blend * o for n, o in zip(new, old, strict=True)]
    ranked = [
        replace(hit, score=score, scores={**hit.scores, STAGE: value})
        for hit, score, value in zip(hits, final, raw, strict=True)
    ]
    if ties == "input":
        ranked.sort(key=lambda h: -h.score)  # stable: equal scores keep the order of ``hits``
    else:
        ranked.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
    return ranked[:top_k]


def rerank_head(
    hits: Sequence[ScoredChunk],
    top_k: int,
    score: Callable[[list[ScoredChunk]], Sequence[float]],
    *,
    depth: int | None = None,
    blend: float = 0.0,
    ties: Literal["chunk_id", "input"] = "chunk_id",
) -> list[ScoredChunk]:
    """Rerank the first ``depth`` hits with ``score`` and keep the rest, in their order, below them.

    Only the head is scored (the expensive part); hits beyond ``depth`` (all when
    None) follow it with their scores shifted below the lowest reranked score,
    because callers (the eval harness, abstention) rank by score, not list order.
    """
    if not hits or top_k <= 0:
        return []
    cut = len(hits) if depth is None else depth
    head, tail = list(hits[:cut]), list(hits[cut:])
    ranked = apply_rerank_scores(head, score(head), len(head), blend=blend, ties=ties)
    if tail and ranked:
        shift = max(h.score for h in tail) - min(h.score for h in ranked) + 1.0
        ranked += [replace(h, score=h.score - shift) for h in tail]
    return ranked[:top_k]
