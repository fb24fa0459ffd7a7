"""In-memory caches shared by the query-time stages: an LRU map, and embeddings by content hash.

The bi-encoder reranker, MMR and the query transforms keep what they computed
for one query (chunk embeddings, expanded queries) for the next ones.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_app.retrieval.disk_cache import DiskEmbeddingCache


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
