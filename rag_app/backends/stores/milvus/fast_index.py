"""An in-process FAISS copy of a Milvus Lite collection's vectors, for millisecond dense search.

Milvus Lite does O(N) Python work per search whatever its index (about 70 ms
at 100k rows, far more before a flush), so :class:`MilvusStore` on a Lite file
answers dense search here and fetches the winning rows by primary key from
Milvus, which stays the store of record. Vectors live in slots: an upsert
appends (and retires the id's old slot), a delete retires slots, and searches
skip retired ones; a commit compacts when a quarter of the slots are retired.
Below ``hnsw_from`` live vectors the index is exact (``IndexFlat``); above it,
HNSW (recall@10 >= 0.99 measured by ``eval/benchmarks/store_scale.py``).
Filtered searches take a mask from :class:`Columns`; a selective one is
searched exactly over its slots with numpy, a broad one through FAISS with an
id selector.

Persistence (an :class:`~rag_app.protocols.IndexListener`, kept in sync like
the BM25 index): ``<folder>/CURRENT`` names a version directory holding
``vectors.npy`` (flat) or ``index.faiss`` (HNSW), ``alive.npy`` and
``rows.json``, and records the sync manifest generation it matches. Versions
are written whole and ``CURRENT`` is replaced atomically, so a kill leaves the
previous version; a reader stats ``CURRENT`` before each search and reloads
when another process committed a newer one.

Over the usual module size on purpose: slots, search and persistence all
read and write the same slot arrays under one lock; the per-slot metadata
columns are already apart (``fast_columns``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag_app.atomic import AtomicFile
from rag_app.backends.stores._common import Metric
from rag_app.backends.stores.milvus.fast_columns import Columns
from rag_app.errors import MissingDependencyError
from rag_app.types import Chunk, Filter

logger = logging.getLogger(__name__)

_FORMAT = "rag_app.fast_index"
_VERSION = 1
_CURRENT = "CURRENT"
_STALE_TMP_S = 3600.0  # a half-written version older than this belongs to a writer that died
HNSW_FROM = 20_000  # live vectors from which the index is HNSW rather than exact
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# From this many live vectors searches look at twice as many candidates: store_scale.py measured
# recall@10 1.000 at 100k and 0.985 at 1M with efSearch 128 (the target is 0.99).
HNSW_WIDE_FROM = 250_000
EXACT_SUBSET = 4096  # filtered searches over at most this many slots are exact (numpy); broader ones HNSW
_WINDOW = 16  # extra candidates past top_k, to see ties at the cut-off


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError("faiss-cpu", "milvus", "the fast index of a Milvus Lite store") from exc
    return faiss


class FastIndex:
    """Vectors and filterable fields of one collection, searched in-process.

    Args:
        folder: where the index is persisted (beside the Lite file).
        metric: the collection's metric (COSINE vectors are stored normalised).
        on_commit: called before each commit persists (the store flushes Milvus).
    """

    def __init__(self, folder: Path, metric: Metric, *, on_commit: Callable[[], None] | None = None,
                 hnsw_from: int = HNSW_FROM, wide_from: int = HNSW_WIDE_FROM) -> None:
        self.folder = folder
        self._metric = metric
        self._on_commit = on_commit
        self._hnsw_from = hnsw_from
        self._wide_from = wide_from
        self._lock = threading.RLock()
        self._dim = 0
        self._loaded = False
        self._reset(0)
        self._generation: int | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._dirty = False
        self.rebuilds = 0  # times this index was refilled from the store (tests and logs)

    # ---- state --------------------------------------------------------------
    def _reset(self, dim: int) -> None:
        self._dim = dim
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._n = 0
        self._alive = np.zeros(0, dtype=bool)
        self._cols = Columns()
        self._slot_of: dict[str, int] = {}
        self._index: Any = None
        self._selector: Any = None

    def bind(self, dimension: int) -> None:
        """Set the collection's dimension (at store open); a persisted index of another size is dropped."""
        with self._lock:
            if self._loaded and self._dim != dimension:
                self._reset(dimension)
                self._generation, self._dirty = None, True
            self._dim = dimension
            self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load()
            self._loaded = True

    @property
    def kind(self) -> str:
        """``flat`` or ``hnsw`` (what the FAISS index currently is)."""
        return "hnsw" if self._index is not None and hasattr(self._index, "hnsw") else "flat"

    @property
    def ef_search(self) -> int:
        """HNSW candidates per unfiltered search: more for large collections, where recall would drop."""
        return 2 * HNSW_EF_SEARCH if len(self._slot_of) >= self._wide_from else HNSW_EF_SEARCH

    # ---- writes -------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], matrix: np.ndarray) -> None:
        """Upsert ``chunks`` with their (validated) vectors; an id's previous slot is retired."""
        if not chunks:
            return
        with self._lock:
            self._ensure_loaded()
            vectors = self._prepared(matrix)
            for chunk in chunks:
                old = self._slot_of.get(chunk.chunk_id)
                if old is not None:
                    self._retire(old)
            start = self._n
            self._grow(start + len(chunks))
            self._vectors[start : start + len(chunks)] = vectors
            self._alive[start : start + len(chunks)] = True
            for offset, chunk in enumerate(chunks):
                self._slot_of[chunk.chunk_id] = start + offset
                self._cols.append(chunk.chunk_id, chunk.doc_id, chunk.source, dict(chunk.metadata))
            self._n = start + len(chunks)
            self._index_add(vectors)
            self._selector, self._dirty = None, True

    def remove(self, chunk_ids: Iterable[str]) -> None:
        with self._lock:
            self._ensure_loaded()
            for cid in chunk_ids:
                slot = self._slot_of.get(cid)
                if slot is not None:
                    self._retire(slot)

    def _retire(self, slot: int) -> None:
        cid = self._cols.ids[slot]
        if cid is not None and self._slot_of.get(cid) == slot:
            del self._slot_of[cid]
        self._alive[slot] = False
        self._cols.kill(slot)
        self._selector, self._dirty = None, True

    def _prepared(self, matrix: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(matrix, dtype=np.float32)
        if self._metric == "COSINE":
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        return vectors

    def _grow(self, needed: int) -> None:
        if needed <= len(self._vectors):
            return
        capacity = max(needed, 2 * len(self._vectors), 1024)
        vectors = np.zeros((capacity, self._dim), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._n] = self._alive[: self._n]
        self._vectors, self._alive = vectors, alive

    def _index_add(self, vectors: np.ndarray) -> None:
        if self._index is None or (self.kind == "flat" and self._n >= self._hnsw_from):
            self._index = self._new_index(hnsw=self._n >= self._hnsw_from)
            self._index.add(self._vectors[: self._n])
        else:
            self._index.add(vectors)

    def _new_index(self, *, hnsw: bool) -> Any:
        faiss = _faiss()
        metric = faiss.METRIC_L2 if self._metric == "L2" else faiss.METRIC_INNER_PRODUCT
        if not hnsw:
            return faiss.IndexFlat(self._dim, metric)
        index = faiss.IndexHNSWFlat(self._dim, HNSW_M, metric)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._n])
        ids, doc_ids, sources, metas = (self._cols.ids, self._cols.doc_ids, self._cols.sources,
                                        self._cols.metadata)
        vectors = self._vectors[keep]
        self._reset(self._dim)
        self._grow(len(keep))
        self._vectors[: len(keep)] = vectors
        self._alive[: len(keep)] = True
        for new, old in enumerate(keep.tolist()):
            cid = ids[old]
            assert cid is not None
            self._slot_of[cid] = new
            self._cols.append(cid, doc_ids[old], sources[old], metas[old])
        self._n = len(keep)
        if self._n:
            self._index = self._new_index(hnsw=self._n >= self._hnsw_from)
            self._index.add(self._vectors[: self._n])

    # ---- IndexListener ------------------------------------------------------
    def on_upsert(self, chunks: Sequence[Chunk]) -> None:
        """Nothing: the store adds vectors itself at every upsert."""

    def on_delete(self, chunk_ids: Iterable[str]) -> None:
        """Nothing: the store retires slots itself at every delete."""

    def on_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """A rebuild from ``VectorStore.export()``: add these stored rows."""
        self.add(chunks, np.asarray(vectors, dtype=np.float32).reshape(len(chunks), self._dim))

    def commit(self, generation: int | None = None) -> None:
        """Flush Milvus, then persist the index stamped with ``generation`` if anything changed."""
        with self._lock:
            self._ensure_loaded()
            if self._on_commit is not None:
                self._on_commit()
            if not self._dirty and generation == self._generation:
                return
            retired = self._n - len(self._slot_of)
            if retired and retired * 4 >= self._n:
                self._compact()
            self._save(generation)
            self._generation, self._dirty = generation, False

    def clear(self) -> None:
        with self._lock:
            self._reset(self._dim)
            self._loaded, self._dirty = True, True
            self._save(None)
            self._generation, self._dirty = None, False

    def size(self) -> int:
        with self._lock:
            self.refresh()
            return len(self._slot_of)

    def generation(self) -> int | None:
        with self._lock:
            self.refresh()
            return self._generation

    def close(self) -> None:
        """Persist uncommitted changes (with no generation: the next pipeline check rebuilds or re-stamps)."""
        with self._lock:
            if self._loaded and self._dirty:
                self._save(None)
                self._generation, self._dirty = None, False

    def drop(self) -> None:
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._reset(self._dim)
            self._loaded, self._generation, self._stamp, self._dirty = True, None, None, False

    # ---- search -------------------------------------------------------------
    def search(self, query: np.ndarray, top_k: int, filters: Sequence[Filter] = ()) -> list[tuple[str, float]]:
        """The ``top_k`` best ``(chunk_id, score)``, score descending, ties by id (``filters`` validated)."""
        with self._lock:
            self.refresh()
            q = self._prepared(query.reshape(1, -1))
            alive = self._alive[: self._n]
            if filters:
                mask = alive & self._cols.mask(filters)
                slots = np.flatnonzero(mask)
                if len(slots) <= EXACT_SUBSET or self.kind == "flat":
                    return self._exact(q[0], slots, top_k)
                return self._faiss_search(q, top_k, len(slots), self._bitmap(mask))
            live = len(self._slot_of)
            if not live:
                return []
            if live < self._n and self._selector is None:
                self._selector = self._bitmap(alive)
            return self._faiss_search(q, top_k, live, self._selector if live < self._n else None)

    def _scores(self, q: np.ndarray, slots: np.ndarray) -> np.ndarray:
        vectors = self._vectors[slots]
        if self._metric == "L2":
            diff = vectors - q
            negated: np.ndarray = -np.einsum("ij,ij->i", diff, diff)
            return negated
        scores: np.ndarray = vectors @ q
        return scores

    def _exact(self, q: np.ndarray, slots: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        if not len(slots):
            return []
        scores = self._scores(q, slots)
        if len(slots) > top_k:
            kth = np.partition(scores, len(scores) - top_k)[len(scores) - top_k]
            keep = scores >= kth  # every tie at the cut-off, so ids decide
            slots, scores = slots[keep], scores[keep]
        return self._ranked(slots, scores, top_k)

    def _faiss_search(self, q: np.ndarray, top_k: int, total: int, selector: Any) -> list[tuple[str, float]]:
        faiss = _faiss()
        window = min(top_k + _WINDOW, total)
        while True:
            params = None
            if selector is not None:
                params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(2 * self.ef_search, window))
                          if self.kind == "hnsw" else faiss.SearchParameters(sel=selector))
            elif self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, window))
            distances, labels = self._index.search(q, window, params=params)
            found = labels[0] >= 0
            slots, raw = labels[0][found].astype(np.int64), distances[0][found]
            scores = -raw if self._metric == "L2" else raw
            if len(slots) < window or window >= total or len(slots) <= top_k or scores[-1] < scores[top_k - 1]:
                return self._ranked(slots, scores, top_k)
            window = min(window * 4, total)

    def _ranked(self, slots: np.ndarray, scores: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        ids = self._cols.ids
        pairs = [(ids[s], float(v)) for s, v in zip(slots.tolist(), scores.tolist(), strict=True)]
        found = [(cid, v) for cid, v in pairs if cid is not None]
        found.sort(key=lambda p: (-p[1], p[0]))
        return found[:top_k]

    def _bitmap(self, mask: np.ndarray) -> Any:
        faiss = _faiss()
        bits = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        selector.referenced_bits = bits  # keep the buffer alive with the selector
        return selector

    # ---- persistence --------------------------------------------------------
    def _current(self) -> Path:
        return self.folder / _CURRENT

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._current())
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> None:
        """Reload when another process committed a newer version (a ``stat`` per call otherwise)."""
        if not self._loaded:
            self._ensure_loaded()
            return
        if not self._dirty and self._disk_stamp() != self._stamp:
            logger.info("the fast index %s changed on disk; reloading it", self.folder)
            self._load()

    def _load(self) -> None:
        """Read the current version; a missing or unreadable one leaves the index empty, generation unknown."""
        dim = self._dim
        self._reset(dim)
        self._generation, self._dirty = None, False
        stamp = self._disk_stamp()
        self._stamp = stamp
        if stamp is None:
            return
        try:
            header = json.loads(self._current().read_text(encoding="utf-8"))
            if header.get("format") != _FORMAT or header.get("dim") != dim or header.get("metric") != self._metric:
                logger.info("the fast index %s was written for other settings; it is rebuilt", self.folder)
                return
            self._read_version(self.folder / str(header["dir"]), int(header["slots"]))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            logger.warning("the fast index %s is unreadable (%s); it is rebuilt from the store", self.folder, exc)
            self._reset(dim)
            return
        generation = header.get("generation")
        self._generation = generation if isinstance(generation, int) else None

    def _read_version(self, version: Path, slots: int) -> None:
        rows = json.loads((version / "rows.json").read_text(encoding="utf-8"))
        alive = np.load(version / "alive.npy")
        if (version / "index.faiss").exists():
            faiss = _faiss()
            index = faiss.read_index(str(version / "index.faiss"))
            storage = faiss.downcast_index(index.storage)
            vectors = faiss.rev_swig_ptr(storage.get_xb(), slots * self._dim).reshape(slots, self._dim).copy()
        else:
            vectors = np.load(version / "vectors.npy")
            index = None
        if len(alive) != slots or vectors.shape != (slots, self._dim) or len(rows["ids"]) != slots:
            raise ValueError(f"version {version.name} is torn ({slots} slots)")
        self._vectors, self._alive, self._n = vectors, alive.astype(bool), slots
        for slot, (cid, doc_id, source, meta) in enumerate(
            zip(rows["ids"], rows["doc_ids"], rows["sources"], rows["metadata"], strict=True)
        ):
            self._cols.append(cid, doc_id, source, meta)
            if cid is not None and alive[slot]:
                self._slot_of[cid] = slot
        self._cols.ids = [cid if alive[s] else None for s, cid in enumerate(self._cols.ids)]
        if index is None and slots:
            index = self._new_index(hnsw=False)
            index.add(vectors)
        self._index = index

    def _save(self, generation: int | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"v-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.mkdir()
        try:
            n = self._n
            np.save(tmp / "alive.npy", self._alive[:n])
            if self.kind == "hnsw":
                _faiss().write_index(self._index, str(tmp / "index.faiss"))
            else:
                np.save(tmp / "vectors.npy", self._vectors[:n])
            cols = self._cols
            rows = {"ids": cols.ids, "doc_ids": cols.doc_ids, "sources": cols.sources, "metadata": cols.metadata}
            (tmp / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.folder / name)
            header = {"format": _FORMAT, "version": _VERSION, "generation": generation, "dir": name,
                      "dim": self._dim, "metric": self._metric, "slots": n, "live": len(self._slot_of),
                      "kind": self.kind}
            with AtomicFile(self._current(), prefix=".CURRENT-", fsync=True) as fh:
                json.dump(header, fh)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._stamp = self._disk_stamp()
        self._prune_versions(keep=name)

    def _prune_versions(self, keep: str) -> None:
        """Remove versions but the current and the newest previous one (a reader may still be loading it)."""
        versions = sorted((p for p in self.folder.glob("v-*") if p.name != keep), key=lambda p: p.stat().st_mtime)
        for old in versions[:-1]:
            shutil.rmtree(old, ignore_errors=True)
        # Another process may be writing its own version right now: only leftovers of a writer that
        # died (older than any save takes) are removed.
        cutoff = time.time() - _STALE_TMP_S
        for stale in self.folder.glob(".v-*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if stale.stat().st_mtime < cutoff:
                    shutil.rmtree(stale, ignore_errors=True)
