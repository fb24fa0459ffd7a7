"""Shared logic of the reranking stage (second pass over first-stage hits).

A reranker scores each ``(query, chunk)`` pair with a stronger model; this
module turns those scores into the stage's output, the same way for every
backend: the ``top_k`` hits sorted by score (ties by ``chunk_id``), each
hit's ``score`` replaced and its earlier per-stage ``scores`` kept, plus
``scores["rerank"]``. It also holds the LRU cache and the cached-embedding
lookup shared by the bi-encoder reranker, MMR and the query transforms.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from rag_app.retrieval.fusion import min_max
from rag_app.types import ScoredChunk

if TYPE_CHECKING:
    from rag_app.retrieval.disk_cache import DiskEmbeddingCache

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


def content_key(text: str) -> bytes:
    """The cache key of a chunk text (SHA-256 digest)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class LRUCache:
    """A thread-safe LRU map bounded by entry count (chunk embeddings by content hash, expanded queries)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def info(self) -> dict[str, int]:
        """``size``, ``max_entries``, ``hits``, ``misses`` (for logs and tests)."""
        with self._lock:
            return {"size": len(self._data), "max_entries": self.max_entries, "hits": self.hits, "misses": self.misses}


def embed_cached(
    texts: Sequence[str],
    embed: Callable[[list[str]], Any],
    cache: LRUCache,
    disk: DiskEmbeddingCache | None = None,
) -> tuple[Any, int]:
    """The vectors of ``texts`` as matrix rows, each distinct text embedded at most once.

    Looks in ``cache`` (memory), then ``disk``, and calls ``embed`` (texts -> 2-D
    array) for the rest, storing them in both. Returns the matrix and how many
    texts ``embed`` received.
    """
    import numpy as np

    keys = [content_key(t) for t in texts]
    found: dict[bytes, Any] = {}
    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key in found or key in missing:
            continue
        cached = cache.get(key)
        if cached is None:
            missing[key] = text
        else:
            found[key] = cached
    if missing and disk is not None:
        for key, vector in disk.get_many(missing).items():
            found[key] = vector
            cache.put(key, vector)
            del missing[key]
    if missing:
        embedded = embed(list(missing.values()))
        fresh = dict(zip(missing, embedded, strict=True))
        for key, vector in fresh.items():
            found[key] = vector
            cache.put(key, vector)
        if disk is not None:
            disk.put_many(fresh)
    return np.stack([found[key] for key in keys]), len(missing)
