"""Keep secondary indexes (BM25 ...) consistent with the store, across crashes.

The store is the truth. A secondary index is trusted only when it was
committed at the sync manifest's current generation, no interrupted run's
journal is open, and it holds as many chunks as the store; otherwise it is
rebuilt from ``VectorStore.export()`` (a listener with ``on_vectors(chunks,
vectors)``, such as the Milvus Lite fast index, gets the vectors too). Checked
whenever a pipeline opens the collection to ingest or to query.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rag_app.ingest.manifest import Manifest
from rag_app.protocols import IndexListener, VectorStore

logger = logging.getLogger(__name__)


def drift(listener: IndexListener, stored: int, manifest: Manifest | None) -> str | None:
    """Why ``listener`` may not match the store, or None when it does.

    Args:
        stored: the store's chunk count.
        manifest: the sync manifest, or None when it could not be read.
    """
    if manifest is None:
        return "the sync manifest is unreadable"
    if manifest.interrupted:
        return f"an ingest run stopped while changing {len(manifest.interrupted)} source(s)"
    size = listener.size()
    if stored == 0 and size == 0:
        return None  # nothing ingested yet, or everything removed: an empty index matches an empty store
    generation = listener.generation()
    if generation != manifest.generation:
        had = "no generation" if generation is None else f"generation {generation}"
        return f"it was committed at {had}, the sync manifest is at generation {manifest.generation}"
    if size != stored:
        return f"it holds {size} chunks, the store {stored}"
    return None


def sync(listeners: Sequence[IndexListener], store: VectorStore, manifest: Manifest | None) -> list[str]:
    """Rebuild every listener that drifted from the (open) store; returns one line per rebuild.

    A rebuilt index is stamped with the manifest generation when the manifest
    is readable and no journal is open; otherwise with no generation, so the
    next check rebuilds it again (an ingest run finishes the recovery).
    """
    stored = store.count()
    rebuilt = []
    for listener in listeners:
        reason = drift(listener, stored, manifest)
        if reason is None:
            continue
        name = type(listener).__name__
        logger.info("rebuilding the %s index from the store (%d chunks): %s", name, stored, reason)
        listener.clear()
        on_vectors = getattr(listener, "on_vectors", None)  # an index of the vectors themselves (FAISS)
        for chunks, vectors in store.export():
            if on_vectors is not None:
                on_vectors(chunks, vectors)
            else:
                listener.on_upsert(chunks)
        trusted = manifest is not None and not manifest.interrupted
        listener.commit(manifest.generation if trusted and manifest is not None else None)
        rebuilt.append(f"{name}: {reason}")
    return rebuilt


def clear_orphaned(listeners: Sequence[IndexListener]) -> None:
    """Empty listeners that still hold chunks of a store that no longer exists."""
    for listener in listeners:
        if listener.size():
            logger.info("the store holds no collection; emptying the %s index", type(listener).__name__)
            listener.clear()
