"""A Collection: one store's collection together with what keeps it consistent.

It owns the vector store, the sync manifest beside it, the secondary indexes
kept in step with it (BM25, a store's own fast dense index) and the
fingerprint policy: which embedder and chunker built it, checked before
anything is written or searched. Ingestion, deletion, queries, ``rag
migrate`` and the synthetic-question generator all open it through here, so
"read the fingerprint, compare it, open the store, bring the secondary
indexes up to date" is written once.

The collection is verified once and then trusted until the manifest file
changes (another process's ingest) or this process writes to it, so the
per-query path does no fingerprint or count I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError, FingerprintMismatchError, InputError
from rag_app.filtering import FieldType, field_types
from rag_app.ingest import listeners as listener_sync
from rag_app.ingest.crashpoints import crash_point
from rag_app.ingest.manifest import Manifest
from rag_app.ingest.run_lock import writer_lock
from rag_app.protocols import Chunker, Embedder, IndexListener, VectorStore
from rag_app.store_identity import adopt_legacy_state, state_path

logger = logging.getLogger(__name__)

# Fingerprint keys that matter when querying (the chunker only matters when ingesting).
QUERY_KEYS = ("embedder", "dimension", "normalized")


@dataclass(frozen=True)
class CollectionStats:
    """What ``rag stats`` shows."""

    store: str
    chunks: int
    documents: int
    fingerprint: dict[str, Any] | None
    manifest: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "chunks": self.chunks,
            "documents": self.documents,
            "fingerprint": self.fingerprint,
            "manifest": self.manifest,
        }


class Collection:
    """The store of record, its sync manifest and secondary indexes, and who may write to them."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        store: VectorStore,
        embedder: Embedder,
        chunker: Chunker,
        indexes: Sequence[object] = (),
    ) -> None:
        """``indexes``: components that may keep a secondary index (retrievers); those that are
        ``IndexListener``s are kept in sync, as is the store's own ``index_listener`` if it has one."""
        self.config = config
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self._listeners: list[IndexListener] = [i for i in indexes if isinstance(i, IndexListener)]
        own = getattr(store, "index_listener", None)
        if isinstance(own, IndexListener):
            self._listeners.append(own)
        self._lock = threading.RLock()
        self._query_ready = False
        self._ready_stamp: tuple[int, int] | None = None
        self._state_adopted = False
        self._field_types: dict[str, FieldType] = {}  # metadata types the manifest recorded (filter typing)

    # ---- identity -------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """What a collection built by this config records about itself (loads the embedder for its dimension)."""
        return {**self._fingerprint_without_dimension(), "dimension": self.embedder.dimension}

    def _fingerprint_without_dimension(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder.name,
            "normalized": self.embedder.normalized,
            "chunker": self.chunker.params_fingerprint(),
        }

    def manifest_path(self) -> Path:
        self._adopt_legacy_state()
        return state_path(self.config, "manifest", ".json")

    def _adopt_legacy_state(self) -> None:
        """Once: rename a manifest / index written when state was keyed on every store param."""
        if self._state_adopted:
            return
        kinds = [("manifest", ".json"), *((spec.type, "") for spec in self.config.retrieval.retrievers)]
        adopt_legacy_state(self.config, kinds)
        self._state_adopted = True

    def listeners(self) -> list[IndexListener]:
        """Secondary indexes that ingestion keeps in sync with the store."""
        return list(self._listeners)

    @property
    def field_types(self) -> dict[str, FieldType]:
        """Metadata field types recorded by ingestion (valid after :meth:`open_for_query`)."""
        return self._field_types

    # ---- opening ----------------------------------------------------------
    def open_recorded(self) -> dict[str, Any] | None:
        """Open the store as its recorded fingerprint says; None (and nothing opened) when it holds no collection."""
        recorded = self.store.fingerprint()
        if recorded:
            self._open_as(recorded)
        return recorded

    def _open_as(self, recorded: dict[str, Any]) -> None:
        """Open the store at its recorded dimension (the embedder's for stores that recorded none)."""
        dimension = recorded.get("dimension")
        self.store.open(dimension if isinstance(dimension, int) else self.embedder.dimension, recorded)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive write access: this process's lock, then the cross-process writer lock.

        Another process's ingest into the same collection goes first; queries in
        this process re-verify the collection afterwards.
        """
        with self._lock, writer_lock(self.manifest_path()):
            self._query_ready = False
            try:
                yield
            finally:
                self._query_ready = False

    def prepare_ingest(self, rebuild: bool) -> Manifest:
        """Check the fingerprint, recover from a stale or interrupted manifest, sync the indexes.

        Call inside :meth:`writing`. Returns the manifest the ingest updates. The
        fingerprint is checked before any model loads, so an unchanged corpus
        re-ingests in well under a second.
        """
        manifest = Manifest.load(self.manifest_path())
        if rebuild:
            # Store first, then the emptied manifest: a crash in between leaves an empty
            # store under a full manifest, which the check below turns into a full re-ingest.
            self.store.drop()
            manifest.reset()
            manifest.save()
            for listener in self._listeners:
                listener.clear()
        recorded = self.store.fingerprint()
        if recorded:
            check_recorded(recorded, self._fingerprint_without_dimension())
            # The store checks its own settings (metric, full text) against the collection now:
            # runtime-only changes share the manifest, so "all unchanged" must not hide a mismatch.
            self._open_as(recorded)
        stored = self.store.count()
        if manifest.sources and stored == 0:
            logger.warning("the store is empty but the manifest is not; re-ingesting everything")
            manifest.reset()
            manifest.save()  # at once: a crash in the first batch must not revive the old entries
        if manifest.interrupted:
            logger.warning(
                "the last ingest stopped before it finished; re-ingesting the %d source(s) it was changing",
                len(manifest.interrupted),
            )
            manifest.save()  # the replayed journal becomes part of the manifest
        if recorded:
            listener_sync.sync(self._listeners, self.store, manifest)
        else:
            listener_sync.clear_orphaned(self._listeners)
        return manifest

    def create(self, manifest: Manifest) -> None:
        """Create or open the collection for the first write (loads the embedder for its dimension)."""
        fingerprint = self.fingerprint()
        self.store.open(self.embedder.dimension, fingerprint)
        manifest.fingerprint = fingerprint

    def open_for_query(self) -> None:
        """Verify the collection and bring the secondary indexes up to date, unless nothing changed since."""
        with self._lock:
            if self._query_ready and self._manifest_stamp() == self._ready_stamp:
                return  # unchanged since verified (another process's ingest changes the manifest)
            stamp = self._manifest_stamp()  # before reading: a save while we sync is seen next time
            self._adopt_legacy_state()
            recorded = self.store.fingerprint()
            if recorded is None:
                raise InputError(
                    f"nothing has been ingested into this {self.config.store.type} store yet; "
                    "run `rag ingest --config <config> <paths>` first"
                )
            check_recorded(recorded, {k: v for k, v in self.fingerprint().items() if k in QUERY_KEYS})
            self.store.open(self.embedder.dimension, recorded)
            manifest = self._manifest_for_query()
            if manifest is not None and manifest.interrupted:
                logger.warning(
                    "the last ingest stopped before it finished; run `rag ingest` again to finish it "
                    "(search uses what the store holds)"
                )
            listener_sync.sync(self._listeners, self.store, manifest)
            self._field_types = field_types(manifest.fields) if manifest is not None else {}
            self._query_ready = True
            self._ready_stamp = stamp

    def _manifest_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.manifest_path().stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _manifest_for_query(self) -> Manifest | None:
        """The manifest, or None when unreadable (queries then lose filter typing and rebuild BM25)."""
        try:
            return Manifest.load(self.manifest_path())
        except ConfigError as exc:
            logger.warning("filters are typed by rag_app's own fields only: %s", exc)
            return None

    # ---- changes ----------------------------------------------------------
    def delete_source(self, source: str) -> int:
        """Remove one ingested source (its chunks, secondary-index entries, manifest entry); returns its chunk count."""
        with self.writing():
            manifest = Manifest.load(self.manifest_path())
            entry = manifest.sources.get(source)
            if entry is None:
                raise InputError(f"{source}: not in this collection; `rag stats` lists what is")
            self.open_recorded()
            manifest.begin({source: (entry.doc_id, [])})
            self.store.delete(entry.chunk_ids)
            crash_point("delete")
            for listener in self._listeners:
                listener.on_delete(entry.chunk_ids)
            del manifest.sources[source]
            manifest.save()
            crash_point("manifest_save")
            for listener in self._listeners:
                listener.commit(manifest.generation)
            return len(entry.chunk_ids)

    def clear_indexes(self) -> None:
        """Empty every secondary index (the store was dropped)."""
        for listener in self._listeners:
            listener.clear()

    # ---- inspection -------------------------------------------------------
    def stats(self) -> CollectionStats:
        manifest_path = self.manifest_path()
        manifest = Manifest.load(manifest_path)
        return CollectionStats(
            store=self.config.store.type,
            chunks=self.store.count(),
            documents=len(manifest.sources),
            fingerprint=self.store.fingerprint(),
            manifest=str(manifest_path) if manifest_path.exists() else None,
        )

    def documents(self) -> list[dict[str, Any]]:
        """Ingested sources from the manifest (for listing and deleting)."""
        manifest = Manifest.load(self.manifest_path())
        return [
            {"source": s, "doc_id": e.doc_id, "title": e.title, "chunks": len(e.chunk_ids)}
            for s, e in sorted(manifest.sources.items())
        ]

    def drift(self) -> list[str]:
        """Secondary indexes that do not match the store, one line each (``rag doctor``; starts nothing)."""
        try:
            manifest: Manifest | None = Manifest.load(self.manifest_path())
        except ConfigError:
            manifest = None
        stored = self.store.count()
        found = ((listener, listener_sync.drift(listener, stored, manifest)) for listener in self._listeners)
        return [f"{type(listener).__name__}: {reason}" for listener, reason in found if reason is not None]

    def close(self) -> None:
        with self._lock:
            self._query_ready = False
            self.store.close()


def check_recorded(recorded: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Raise if the collection's recorded fingerprint differs from ``expected`` on ``expected``'s keys."""
    from rag_app.readable import fingerprint_difference

    actual = {k: recorded[k] for k in expected if k in recorded}
    if actual == expected:
        return
    differing = {k for k in expected if actual.get(k) != expected[k]}
    parts = [name for name, keys in (("embedder", set(QUERY_KEYS)), ("chunker", {"chunker"})) if differing & keys]
    what = " and ".join(parts) or "embedder"
    raise FingerprintMismatchError(
        f"the collection was {fingerprint_difference(actual, dict(expected))}; "
        f"use the same {what}, or re-ingest with --rebuild"
    )
