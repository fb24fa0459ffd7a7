"""A persistent map from chunk-content hash to embedding, one SQLite file per model.

A reranking bi-encoder embeds candidate chunks at query time; on a CPU that is
the whole cost of the stage (seconds per new candidate list). Keeping those
embeddings on disk means a chunk is embedded once per model, not once per
process: a restarted UI, a second eval row or the next day's questions read
them back in microseconds. SQLite (stdlib) gives atomic, concurrent-safe
writes without another dependency; vectors are stored as float32 bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)



def default_dir() -> Path:
    """``$RAG_EMBEDDING_CACHE``, else ``~/.cache/rag_app/embeddings``."""
    return Path(os.path.expanduser(os.environ.get("RAG_EMBEDDING_CACHE", "~/.cache/rag_app/embeddings")))


class DiskEmbeddingCache:
    """``get_many``/``put_many`` of float32 vectors keyed by content hash, in ``<dir>/<model key>.sqlite``."""

    def __init__(self, directory: Path, model_key: str) -> None:
        digest = hashlib.sha256(model_key.encode("utf-8")).hexdigest()[:16]
        self.path = directory / f"{digest}.sqlite"
        self._model_key = model_key
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._failed = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._failed:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
                conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('model', ?)", (self._model_key,))
                conn.commit()
                self._conn = conn
            except (sqlite3.Error, OSError) as exc:
                # The cache only saves time: without it every candidate is embedded, as before.
                logger.warning("embedding cache %s unavailable (%s); continuing without it", self.path, exc)
                self._failed = True
        return self._conn

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        wanted = list(dict.fromkeys(keys))
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            conn = self._connect()
            if conn is None or not wanted:
                return found
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in conn.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part):
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: Mapping[bytes, np.ndarray]) -> None:
        with self._lock:
            conn = self._connect()
            if conn is None or not items:
                return
            rows = [(key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items.items()]
            try:
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                conn.commit()
            except sqlite3.Error as exc:
                logger.warning("could not write to the embedding cache %s: %s", self.path, exc)

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            return int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
