"""A content-hash cache of document vectors, shared across files and runs.

Keyed by a hash of the chunk text and stored in one SQLite file per embedder
identity (its name, normalisation and dimension), so identical text anywhere
(repeated boilerplate, a moved file, a renamed folder, a rebuilt collection)
is embedded once. Vectors are stored as float64 bytes, so a cached vector is
exactly the one computed. A cache that cannot be
read is treated as empty and rebuilt: it only ever saves work, never decides
what is indexed, so a cache that is locked by another process or fails to
write is skipped with a warning, never an ingest error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def text_key(text: str) -> bytes:
    """The cache key of one chunk text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbedCache:
    """``text -> vector`` for one embedder, persisted in ``folder/embed-cache-<identity>.sqlite``."""

    def __init__(self, folder: Path, identity: dict[str, object]) -> None:
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
        self.path = folder / f"embed-cache-{digest}.sqlite"
        self._identity = identity
        self._db: sqlite3.Connection | None = None
        self.hits = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                logger.warning("embedding cache %s is unreadable (%s); starting a new one", self.path, exc)
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (identity TEXT NOT NULL)")
        if db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0:
            db.execute("INSERT INTO meta VALUES (?)", (json.dumps(self._identity, sort_keys=True, default=str),))
        db.commit()
        return db

    def get_many(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """The cached vectors of those ``texts`` that have one (none if the cache cannot be read)."""
        keys = {text_key(t): t for t in texts}
        found: dict[str, list[float]] = {}
        items = list(keys)
        try:
            db = self._conn()
            for start in range(0, len(items), 500):  # SQLite caps the number of bound parameters
                part = items[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, blob in db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float64).tolist()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("embedding cache %s not read (%s); embedding these texts", self.path, exc)
            return {}
        self.hits += len(found)
        return found

    def put_many(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Record freshly computed vectors (one transaction; skipped with a warning if it cannot be written)."""
        rows = [(text_key(t), np.asarray(v, dtype=np.float64).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        try:
            db = self._conn()
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            db.commit()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("embedding cache %s not written (%s)", self.path, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
