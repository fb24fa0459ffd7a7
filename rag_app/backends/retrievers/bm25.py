"""Sparse BM25 retrieval with ``bm25s``, kept in sync with the vector store.

The index lives next to the sync manifest (``<state_dir>/bm25-<store>/``):
one ``chunks.jsonl`` file, a header line with the sync manifest generation it
matches, then the chunk texts and metadata as JSON lines, replaced atomically.
The ingestion runner reports every upsert and delete to it; ``commit()``
persists them once per ingest run, and the pipeline rebuilds the index from
the store when its generation is not the manifest's (a run killed between a
manifest save and this commit). The ``bm25s`` matrices are rebuilt in memory on first use (bm25s indexes tens
of thousands of chunks per second, so a rebuild is cheaper than maintaining
incremental statistics, and BM25 parameters can change without re-ingesting).
Metadata filters are applied with the same semantics as the stores
(``weight_mask``), so dense and sparse paths see the same candidates.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_app.atomic import AtomicFile
from rag_app.errors import ConfigError
from rag_app.filtering import matches, validate
from rag_app.types import Chunk, Filter, ScoredChunk

logger = logging.getLogger(__name__)

_FILE = "chunks.jsonl"
_FORMAT = "rag_app.bm25"
_VERSION = 2


class BM25Retriever:
    """Okapi BM25 (Lucene variant by default) over chunk texts."""

    name = "bm25"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k1: float = Field(default=1.5, gt=0)
        b: float = Field(default=0.75, ge=0, le=1)
        method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"
        stemmer: str | None = Field(default="english", description="a PyStemmer language, or null")
        stopwords: str | None = Field(default="en", description="a bm25s stopword list, or null")

    def __init__(self, params: Params, *, index_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._dir = index_dir
        self._chunks: dict[str, Chunk] | None = None
        self._order: list[str] = []
        self._model: Any = None
        self._dirty = False
        self._generation: int | None = None
        self._stamp: tuple[int, int, int] | None = None  # the file as last read or written
        self._lock = threading.RLock()

    # ---- ingestion side ---------------------------------------------------
    def on_upsert(self, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            table = self._table()
            for chunk in chunks:
                table[chunk.chunk_id] = chunk
            self._dirty = True

    def on_delete(self, chunk_ids: Iterable[str]) -> None:
        with self._lock:
            table = self._table()
            for cid in chunk_ids:
                table.pop(cid, None)
            self._dirty = True

    def clear(self) -> None:
        with self._lock:
            self._chunks, self._order, self._model, self._dirty = {}, [], None, True
            self.commit(None)

    def size(self) -> int:
        with self._lock:
            return len(self._table())

    def generation(self) -> int | None:
        with self._lock:
            self._table()
            return self._generation

    def commit(self, generation: int | None = None) -> None:
        """Rebuild the index if anything changed and persist it with ``generation``, atomically."""
        with self._lock:
            self._table()
            if not self._dirty and generation == self._generation:
                return
            self._build()
            self._save(generation)
            self._generation = generation
            self._dirty = False

    # ---- query side -------------------------------------------------------
    def retrieve(self, query: str, *, depth: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        import numpy as np

        with self._lock:
            table = self._table()
            if self._model is None and table:
                self._build()
            if not table:
                return []
            checked = validate(filters)
            mask = None
            if checked:
                mask = np.array([matches(table[cid], checked) for cid in self._order], dtype=np.float32)
                if not mask.any():
                    return []
            tokens = self._tokenize([query], return_ids=False)
            k = min(depth, len(self._order))
            ids, scores = self._model.retrieve(tokens, k=k, show_progress=False, weight_mask=mask)
        hits = [
            ScoredChunk(table[self._order[int(i)]], float(s), {self.name: float(s)})
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0
        ]
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return hits

    # ---- internals ----------------------------------------------------------
    def _tokenize(self, texts: list[str], *, return_ids: bool) -> Any:
        bm25s = _import_bm25s()
        stemmer = None
        if self._params.stemmer:
            import Stemmer

            try:
                stemmer = Stemmer.Stemmer(self._params.stemmer)
            except KeyError as exc:
                raise ConfigError(f"bm25 stemmer {self._params.stemmer!r} is not a PyStemmer language") from exc
        return bm25s.tokenize(
            texts,
            stopwords=self._params.stopwords or [],
            stemmer=stemmer,
            return_ids=return_ids,
            show_progress=False,
        )

    def _build(self) -> None:
        bm25s = _import_bm25s()
        table = self._table()
        self._order = sorted(table)
        if not self._order:
            self._model = None
            return
        tokens = self._tokenize([table[cid].text for cid in self._order], return_ids=True)
        p = self._params
        model = bm25s.BM25(k1=p.k1, b=p.b, method=p.method)
        model.index(tokens, show_progress=False)
        self._model = model

    def _table(self) -> dict[str, Chunk]:
        """The chunks, re-read when another process committed a newer index (a ``stat`` per call otherwise).

        Reading the committed file is what lets a reader (the UI, ``rag serve``) follow another
        process's ingest without rebuilding the index from ``VectorStore.export()``.
        """
        if self._chunks is not None and not self._dirty and self._stamp != self._disk_stamp():
            logger.info("the bm25 index in %s changed on disk; reloading it", self._dir)
            self._chunks, self._model = None, None
        if self._chunks is None:
            self._chunks = self._load_chunks()
        return self._chunks

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        if self._dir is None:
            return None
        try:
            st = os.stat(self._dir / _FILE)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load_chunks(self) -> dict[str, Chunk]:
        """The persisted chunks (sets the generation); an unreadable file counts as empty, generation unknown."""
        path = self._dir / _FILE if self._dir else None
        self._generation = None
        self._stamp = self._disk_stamp()  # before reading: a commit while we read is seen next time
        if path is None or not path.exists():
            return {}
        table: dict[str, Chunk] = {}
        generation = None
        try:
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh):
                    row = json.loads(line)
                    if n == 0 and row.get("format") == _FORMAT:
                        generation = row.get("generation")
                        continue  # an index written before generations starts with a chunk row
                    table[row["chunk_id"]] = Chunk(**row)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("the bm25 index %s is unreadable (%s); it is rebuilt from the store", path, exc)
            return {}
        self._generation = generation if isinstance(generation, int) else None
        return table

    def _save(self, generation: int | None) -> None:
        if self._dir is None:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        with AtomicFile(self._dir / _FILE, prefix=f".{_FILE}-") as fh:
            header = {"format": _FORMAT, "version": _VERSION, "generation": generation, "chunks": len(self._order)}
            fh.write(json.dumps(header) + "\n")
            table = self._table()
            for cid in self._order:
                c = table[cid]
                row = {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source,
                       "text": c.text, "metadata": c.metadata}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stamp = self._disk_stamp()


def _import_bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        from rag_app.errors import MissingDependencyError

        raise MissingDependencyError("bm25s", "hybrid", "retriever 'bm25'") from exc
    # bm25s sets its own logger to DEBUG on import; follow the application's level instead.
    logging.getLogger("bm25s").setLevel(max(logging.getLogger().getEffectiveLevel(), logging.WARNING))
    return bm25s
