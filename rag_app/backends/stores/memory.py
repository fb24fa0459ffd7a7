"""An in-process vector store: a numpy matrix plus dicts, optionally persisted.

Exact (brute-force) search, filters evaluated in Python. With ``path`` set the
store is written on every change as ``<path>.npz`` (vectors, no pickle) plus a
``<path>.json`` sidecar (chunks, fingerprint, metric), each replaced atomically;
a shared ``generation`` number detects a torn pair, and the previous vectors
(``<path>.npz.prev``) complete the previous pair, so a kill between the two
writes loses only the write in progress. One writer at a time: an
instance reads the files once, then works from memory. Meant for tests, demos
and small corpora; it is the reference the contract suite holds other stores to.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag_app import filtering as filters_mod
from rag_app.atomic import AtomicFile
from rag_app.backends.stores import _common as common
from rag_app.backends.stores._common import Metric
from rag_app.errors import BackendError
from rag_app.types import Chunk, Filter, ScoredChunk

logger = logging.getLogger(__name__)

_FORMAT = 1


class MemoryStore:
    """Brute-force store over a float32 matrix; optional atomic file persistence."""

    capabilities: ClassVar[dict[str, str]] = {
        "filter_ops": "eq ne in gt gte lt lte",
        "range_filters": "numbers and strings",
        "sparse_hybrid": "no (BM25 runs beside any store in rag_app's retriever)",
        "max_batch": "no limit (one numpy matrix)",
        "max_top_k": "16384",
        "consistency": "immediate (in-process)",
        "persistence": "optional: <path>.npz + <path>.json, replaced atomically; one writer",
    }

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str | None = Field(default=None, description="file stem; writes <path>.npz and <path>.json")
        metric: Metric = "COSINE"
        batch_size: int = Field(default=256, gt=0, description="accepted for parity with other stores")

    #: Params that say where the data lives (see ``rag_app.store_identity``).
    location_params: ClassVar[tuple[str, ...]] = ("path",)
    #: Params that change how the store is used, not what it holds.
    runtime_params: ClassVar[tuple[str, ...]] = ("batch_size",)

    @classmethod
    def location(cls, params: Params, *, base_dir: Path | None = None) -> dict[str, object]:
        """The file stem this store writes (absolute), or None for an in-process store."""
        stem = _stem(params.path, base_dir)
        return {"path": os.path.abspath(stem) if stem is not None else None}

    @classmethod
    def isolated(cls, params: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
        """``params`` moved to a private store under ``folder`` (eval caches)."""
        return {**params, "path": str(folder / "store")}

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._npz: Path | None = None
        self._sidecar: Path | None = None
        stem = _stem(params.path, base_dir)
        if stem is not None:
            self._npz = stem.parent / (stem.name + ".npz")
            self._sidecar = stem.parent / (stem.name + ".json")
        self._lock = threading.RLock()
        self._opened = False
        self._reset()

    def _reset(self) -> None:
        self._exists = False
        self._dim = 0
        self._fp: dict[str, object] | None = None
        self._chunks: list[Chunk] = []
        self._row: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._generation = 0
        self._stored_metric: str = self._params.metric

    # ------------------------------------------------------------------ lifecycle

    def open(self, dimension: int, fingerprint: dict[str, object]) -> None:
        wanted = common.canonical(fingerprint)
        with self._lock:
            self._load()
            if self._exists:
                common.check_fingerprint(self._where(), self._fp, self._dim, wanted, dimension)
                common.check_metric(self._where(), self._stored_metric, self._params.metric)
            else:
                self._exists, self._dim, self._fp = True, dimension, wanted
                self._stored_metric = self._params.metric
                self._vectors = np.zeros((0, dimension), dtype=np.float32)
                self._save()
            self._opened = True

    def fingerprint(self) -> dict[str, object] | None:
        with self._lock:
            self._load()
            return dict(self._fp) if self._exists and self._fp is not None else None

    def count(self) -> int:
        with self._lock:
            self._load()
            return len(self._chunks)

    def drop(self) -> None:
        with self._lock:
            for file in (self._npz, self._sidecar, self._prev()):
                if file is not None:
                    file.unlink(missing_ok=True)
            self._reset()
            self._opened = False

    def close(self) -> None:
        with self._lock:
            self._opened = False
            if self._npz is not None:  # the files are the truth; reload on next use
                self._reset()

    # ------------------------------------------------------------------ data

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        with self._lock:
            self._require_open()
            batch, matrix = common.validate_batch(chunks, vectors, self._dim)
            if not batch:
                return
            new_rows = []
            for chunk, vec in zip(batch, matrix, strict=True):
                row = self._row.get(chunk.chunk_id)
                if row is None:
                    self._row[chunk.chunk_id] = len(self._chunks)
                    self._chunks.append(chunk)
                    new_rows.append(vec)
                else:
                    self._chunks[row] = chunk
                    self._vectors[row] = vec
            if new_rows:
                self._vectors = np.vstack([self._vectors, np.stack(new_rows)])
            self._save()

    def search(
        self, vector: Sequence[float], top_k: int, filters: Sequence[Filter] = ()
    ) -> list[ScoredChunk]:
        with self._lock:
            self._require_open()
            common.check_top_k(top_k)
            query = common.query_vector(vector, self._dim)
            checked = filters_mod.validate(filters)
            rows = np.array(
                [i for i, c in enumerate(self._chunks) if filters_mod.matches(c, checked)], dtype=np.int64
            )
            if rows.size == 0:
                return []
            scores = self._scores(query)[rows]
            if rows.size > top_k:  # keep everything tied with the k-th best; rank() breaks ties
                kth = np.partition(scores, rows.size - top_k)[rows.size - top_k]
                rows, scores = rows[scores >= kth], scores[scores >= kth]
            results = [  # copies, so callers cannot edit the stored metadata
                ScoredChunk(chunk=replace(c, metadata=dict(c.metadata)), score=float(s))
                for c, s in zip((self._chunks[i] for i in rows.tolist()), scores.tolist(), strict=True)
            ]
            return common.rank(results, top_k)

    def _scores(self, query: np.ndarray) -> np.ndarray:
        metric = self._params.metric
        if metric == "L2":  # Milvus reports squared L2 distance; score is its negation
            diff = self._vectors - query
            squared: np.ndarray = np.einsum("ij,ij->i", diff, diff)
            return -squared
        scores: np.ndarray = self._vectors @ query
        if metric == "COSINE":
            norms = np.linalg.norm(self._vectors, axis=1) * np.linalg.norm(query)
            scores = np.divide(scores, norms, out=np.zeros_like(scores), where=norms > 0)
        return scores

    def delete(self, chunk_ids: Iterable[str]) -> None:
        with self._lock:
            self._require_open()
            self._remove(common.string_ids(chunk_ids, "id") & self._row.keys())

    def export(self, batch_size: int = 256) -> Iterator[tuple[list[Chunk], list[list[float]]]]:
        """Every stored chunk with its vector, ``batch_size`` at a time (a snapshot)."""
        with self._lock:
            self._require_open()
            chunks, vectors = list(self._chunks), self._vectors.copy()
        for i in range(0, len(chunks), max(1, batch_size)):
            part = chunks[i : i + batch_size]
            yield [replace(c, metadata=dict(c.metadata)) for c in part], vectors[i : i + len(part)].tolist()

    def _remove(self, ids: set[str]) -> None:
        if not ids:
            return
        keep = [i for i, c in enumerate(self._chunks) if c.chunk_id not in ids]
        self._chunks = [self._chunks[i] for i in keep]
        self._vectors = self._vectors[keep]
        self._row = {c.chunk_id: i for i, c in enumerate(self._chunks)}
        self._save()

    # ------------------------------------------------------------------ persistence

    def _where(self) -> str:
        return f"memory store {self._sidecar}" if self._sidecar else "memory store"

    def _prev(self) -> Path | None:
        return None if self._npz is None else self._npz.with_name(self._npz.name + ".prev")

    def _require_open(self) -> None:
        if not self._opened:
            raise BackendError(f"{self._where()} is not open; call open(dimension, fingerprint) first")

    def _load(self) -> None:
        """Read the files once (if persisted, present, and not loaded yet)."""
        if self._exists or self._sidecar is None or self._npz is None or not self._sidecar.exists():
            return
        try:
            meta = json.loads(self._sidecar.read_text(encoding="utf-8"))
            vectors, generation = _read_vectors(self._npz, meta["generation"], self._prev())
            chunks = [Chunk(**c) for c in meta["chunks"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"cannot read {self._where()} ({exc}); "
                f"delete {self._npz.name} and {self._sidecar.name} and re-ingest"
            ) from exc
        if generation != meta["generation"] or vectors.shape != (len(chunks), meta["dimension"]):
            raise BackendError(
                f"{self._where()}: {self._npz.name} and {self._sidecar.name} do not match "
                "(interrupted write?); re-ingest with --rebuild"
            )
        self._exists, self._dim, self._fp = True, int(meta["dimension"]), meta["fingerprint"]
        self._stored_metric = meta["metric"]
        self._generation, self._chunks, self._vectors = generation, chunks, vectors
        self._row = {c.chunk_id: i for i, c in enumerate(chunks)}

    def _save(self) -> None:
        if self._sidecar is None or self._npz is None:
            return
        self._generation += 1
        meta = {
            "format": _FORMAT,
            "generation": self._generation,
            "dimension": self._dim,
            "metric": self._stored_metric,
            "fingerprint": self._fp,
            "chunks": [asdict(c) for c in self._chunks],
        }
        self._sidecar.parent.mkdir(parents=True, exist_ok=True)
        prev = self._prev()
        if prev is not None and self._npz.exists():  # with the sidecar, the last complete pair
            os.replace(self._npz, prev)
        _atomic_write(self._npz, lambda f: np.savez(f, vectors=self._vectors, generation=self._generation))
        _atomic_write(self._sidecar, lambda f: f.write(common.dumps(meta).encode("utf-8")))
        logger.debug("saved %d chunks to %s", len(self._chunks), self._npz)


def _read_vectors(npz_path: Path, wanted: object, prev: Path | None) -> tuple[np.ndarray, int]:
    """The vectors of generation ``wanted``: from ``npz_path``, else the previous file (a torn write)."""
    found: tuple[np.ndarray, int] | None = None
    for path in (npz_path, prev):
        if path is None or not path.exists():
            continue
        with np.load(path, allow_pickle=False) as npz:
            found = np.asarray(npz["vectors"], dtype=np.float32), int(npz["generation"])
        if found[1] == wanted:
            if path is prev:
                logger.warning("%s: the last write was interrupted; using the previous one", npz_path)
            return found
    if found is None:
        raise OSError(f"{npz_path.name} is missing")
    return found


def _stem(path: str | None, base_dir: Path | None) -> Path | None:
    """The file stem ``<stem>.npz`` / ``<stem>.json`` are written at (relative to ``base_dir``)."""
    if not path:
        return None
    stem = Path(path).expanduser()
    if not stem.is_absolute() and base_dir is not None:
        stem = base_dir / stem
    return stem.with_suffix("") if stem.suffix in {".npz", ".json"} else stem


def _atomic_write(target: Path, write: Any) -> None:
    with AtomicFile(target, binary=True, fsync=True) as handle:
        write(handle)
