"""Milvus vector store (Milvus Lite ``.db`` files or a Milvus server) via ``MilvusClient``.

Schema (explicit, no dynamic fields): ``id`` VARCHAR primary key, typed
``doc_id`` / ``source`` columns (fast filters), ``text``, ``metadata`` JSON and
``vector``. The pipeline fingerprint lives in the collection property
``rag_app.fingerprint`` (Milvus Lite drops schema descriptions; properties
survive reopen there and exist on every Milvus server).

With ``full_text`` the collection also gets an analysed ``text`` field, a
``sparse`` field and a BM25 function between them: Milvus computes the sparse
vectors at every upsert, so full-text search (:meth:`MilvusStore.search_text`,
the ``milvus_bm25`` retriever) follows every write and delete. The settings are
recorded in ``rag_app.full_text`` and checked on open.

On a Lite file, dense search is answered by an in-process FAISS copy of the
vectors (``_fast_index``, persisted in ``<file>.fast/<collection>/``, kept in
sync by ingestion like the BM25 index) and the winning rows are fetched by
primary key; Milvus stays the store of record. A server ``uri`` uses
Milvus's own index.

What could leave this module has: filter expressions (``expressions``), row
conversion (``rows``), the Lite connection and its server (``lite``,
``lite_server``), the fast index (``fast_index``, ``fast_columns``). The rest is
one collection's lifecycle against ``MilvusClient`` (open and its checks,
writes, searches, export), which reads best in one place.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymilvus import MilvusClient, MilvusException

from rag_app import filtering
from rag_app.backends.stores import _common as common
from rag_app.backends.stores._common import Metric
from rag_app.backends.stores.milvus import expressions as filters_mod
from rag_app.backends.stores.milvus import fast_index as fast
from rag_app.backends.stores.milvus import lite, rows
from rag_app.errors import BackendError, ConfigError
from rag_app.types import Chunk, Filter, ScoredChunk

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_T = TypeVar("_T")


class MilvusStore:
    """Chunks and vectors in one Milvus collection."""

    capabilities: ClassVar[dict[str, str]] = {
        "filter_ops": "eq ne in gt gte lt lte",
        "range_filters": "numbers and strings",
        "sparse_hybrid": "BM25 full text inside Milvus with full_text: true (retriever milvus_bm25; "
        "Lite 3.x or Milvus >= 2.5, not 2.3), fused with dense by rag_app",
        "max_batch": "batch_size rows per upsert call (at most 16384)",
        "max_top_k": "16384",
        "consistency": "consistency_level (default Strong: reads see all acknowledged writes)",
        "persistence": "Lite: a local .db directory (WAL); server: Milvus storage (etcd + MinIO/S3 or local)",
    }

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        uri: str = Field(default="milvus.db", description="Milvus Lite file (*.db) or http(s):// server")
        collection: str = "rag_chunks"
        token_env: str | None = Field(default=None, description="env var holding a server token")
        db_name: str | None = None
        metric: Metric = "COSINE"
        index_type: Literal["FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"] = "FLAT"
        index_params: dict[str, Any] = Field(default_factory=dict, description='e.g. {"M": 16}')
        search_params: dict[str, Any] = Field(default_factory=dict, description='e.g. {"ef": 64}')
        consistency_level: Literal["Strong", "Bounded", "Session", "Eventually"] = "Strong"
        batch_size: int = Field(default=256, gt=0, le=16384)
        timeout_s: float = Field(default=30.0, gt=0)
        full_text: rows.FullText | None = Field(
            default=None, description="true, or {analyzer, k1, b}: BM25 full-text search inside Milvus",
        )

        @field_validator("full_text", mode="before")
        @classmethod
        def _full_text(cls, value: object) -> object:
            if isinstance(value, bool):
                return {} if value else None
            return value

        @field_validator("collection")
        @classmethod
        def _collection_name(cls, value: str) -> str:
            if not _NAME.fullmatch(value):
                raise ValueError("must start with a letter or _ and use only letters, digits and _ (max 255)")
            return value

        @field_validator("uri")
        @classmethod
        def _uri(cls, value: str) -> str:
            if not value.startswith(("http://", "https://")) and not value.endswith(".db"):
                raise ValueError("must be an http(s):// Milvus server or a Milvus Lite file ending in .db")
            return value

    #: Params that say where the collection lives (see ``rag_app.store_identity``).
    location_params: ClassVar[tuple[str, ...]] = ("uri", "db_name", "collection")
    #: Params that change how the collection is reached or searched, not what it holds.
    runtime_params: ClassVar[tuple[str, ...]] = (
        "token_env", "search_params", "consistency_level", "batch_size", "timeout_s",
    )

    @classmethod
    def location(cls, params: Params, *, base_dir: Path | None = None) -> dict[str, object]:
        """Server URL or absolute Lite file, database and collection name."""
        lite_path = _lite_path(params.uri, base_dir)
        uri = os.path.abspath(lite_path) if lite_path is not None else params.uri.rstrip("/")
        return {"uri": uri, "db_name": params.db_name or "", "collection": params.collection}

    @classmethod
    def isolated(cls, params: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
        """``params`` moved to collection ``eval_<name>`` (in ``folder/milvus.db`` unless on a server)."""
        out = {**params, "collection": f"eval_{name}"}
        if not str(params.get("uri", "")).startswith(("http://", "https://")):
            out["uri"] = str(folder / "milvus.db")
        return out

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._name = params.collection
        self._lite_path = _lite_path(params.uri, base_dir)
        self._where = f"Milvus collection {self._name!r} at {self._lite_path or params.uri}"
        self._client: Any = None
        self._lock = threading.Lock()
        self._loaded = False
        self._dim = 0
        self._opened_fp: dict[str, object] | None = None
        self._version: str | None = None
        self._unflushed = False  # Lite: rows in the memtable, which BM25 search re-indexes per query
        self._fast: fast.FastIndex | None = None
        self._fast_checked = False  # whether the fast index was compared with the collection since open
        if self._lite_path is not None:
            folder = Path(f"{self._lite_path}.fast") / self._name
            self._fast = fast.FastIndex(folder, params.metric, on_commit=self._flush)

    @property
    def index_listener(self) -> fast.FastIndex | None:
        """The fast index a pipeline keeps in sync with the manifest (Lite files only)."""
        return self._fast

    # ------------------------------------------------------------------ connection

    def _connect(self) -> Any:
        with self._lock:  # one client (and one Lite reference) per store, even across threads
            if self._client is None:
                self._client = self._new_client()
            return self._client

    @property
    def full_text(self) -> bool:
        """Whether this store is configured for BM25 full-text search (``search_text``)."""
        return self._params.full_text is not None

    def _server_version(self) -> str:
        if self._version is None:
            client = self._connect()
            self._version = str(self._call("get_server_version", client.get_server_version))
        return self._version

    def _new_client(self) -> Any:
        p = self._params
        if self._lite_path is not None:
            return lite.connect(self._lite_path, lambda uri: MilvusClient(uri, timeout=p.timeout_s))
        token = ""
        if p.token_env:
            token = os.environ.get(p.token_env, "")
            if not token:
                raise ConfigError(f"store 'milvus': environment variable {p.token_env} (token_env) is unset")
        try:
            return MilvusClient(uri=p.uri, token=token, db_name=p.db_name or "", timeout=p.timeout_s)
        except MilvusException as exc:
            raise BackendError(
                f"cannot reach Milvus at {p.uri}: {lite.error_message(exc)}; start the server or fix the uri"
            ) from exc

    def _call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise BackendError(f"{self._where}: {what} failed: {lite.error_message(exc)}") from exc

    def _exists(self) -> bool:
        client = self._connect()
        return bool(self._call("has_collection", client.has_collection, self._name))

    def _load(self) -> None:
        if not self._loaded:  # a reopened collection is 'released' until loaded
            self._call("load_collection", self._connect().load_collection, self._name)
            self._loaded = True

    # ------------------------------------------------------------------ lifecycle

    def open(self, dimension: int, fingerprint: dict[str, object]) -> None:
        wanted = common.canonical(fingerprint)
        if self._client is not None and (self._dim, self._opened_fp) == (dimension, wanted):
            return  # already open with these settings (the pipeline re-opens per query)
        client = self._connect()
        self._check_engine()
        if self._exists():
            info = self._call("describe_collection", client.describe_collection, self._name)
            stored_dim = rows.vector_dim(info, self._where)
            common.check_fingerprint(self._where, rows.read_fingerprint(info), stored_dim, wanted, dimension)
            index = self._call("describe_index", client.describe_index, self._name, "vector")
            stored_metric = (index or {}).get("metric_type", self._params.metric)
            common.check_metric(self._where, stored_metric, self._params.metric)
            if self._params.full_text is not None:
                rows.check_full_text(self._where, info, self._params.full_text)
        else:
            self._create(client, dimension, wanted)
        self._load()
        self._dim, self._opened_fp = dimension, wanted
        self._unflushed = True  # Lite replays its WAL into the memtable on reopen
        if self._fast is not None:
            self._fast.bind(dimension)
            self._fast_checked = False

    def _check_engine(self) -> None:
        """Full-text settings this engine cannot honour: a ConfigError before anything is written."""
        if self._params.full_text is not None:
            lite.check_full_text_engine(self._where, self._server_version(), self._params.full_text.analyzer)

    def _create(self, client: Any, dimension: int, fingerprint: dict[str, object]) -> None:
        p = self._params
        schema = rows.schema(dimension, p.full_text)
        index = client.prepare_index_params()
        # Build params must be nested under "params" or Milvus Lite silently drops them.
        extra = {"params": {"params": dict(p.index_params)}} if p.index_params else {}
        index.add_index(field_name="vector", index_type=p.index_type, metric_type=p.metric, **extra)
        properties = {rows.FP_PROPERTY: common.dumps(fingerprint)}
        if p.full_text is not None:
            bm25 = {"bm25_k1": p.full_text.k1, "bm25_b": p.full_text.b}
            index.add_index(field_name=rows.SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX",
                            metric_type="BM25", params={"params": bm25})
            properties[rows.FULL_TEXT_PROPERTY] = p.full_text.settings()
        self._call(
            "create_collection", client.create_collection, self._name, schema=schema,
            consistency_level=p.consistency_level, properties=properties,
        )
        # pymilvus' sync wait polls every 0.5 s (and calls an RPC Lite lacks); Lite builds at once.
        self._call("create_index", client.create_index, self._name, index, sync=self._lite_path is None)
        info = self._call("describe_collection", client.describe_collection, self._name)
        if rows.read_fingerprint(info) is None:  # a server that ignores create-time properties
            self._call("alter_collection_properties", client.alter_collection_properties,
                       self._name, properties=properties)
        logger.info("created %s (dimension %d, %s %s)", self._where, dimension, p.index_type, p.metric)

    def fingerprint(self) -> dict[str, object] | None:
        """The recorded fingerprint; None if the collection is missing, {} if it has none."""
        if not self._exists():
            return None
        info = self._call("describe_collection", self._connect().describe_collection, self._name)
        return rows.read_fingerprint(info) or {}

    def count(self) -> int:
        if not self._exists():
            return 0
        self._load()
        client = self._connect()
        found = self._call(
            "count", client.query, self._name, filter="", output_fields=["count(*)"],
            consistency_level=self._params.consistency_level,
        )
        return int(found[0]["count(*)"]) if found else 0

    def drop(self) -> None:
        if self._exists():
            self._call("drop_collection", self._connect().drop_collection, self._name)
        if self._fast is not None:
            self._fast.drop()
        self._loaded, self._dim, self._opened_fp = False, 0, None

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._loaded, self._dim, self._opened_fp, self._version = False, 0, None, None
        if client is None:
            return
        if self._fast is not None:
            self._fast.close()
        try:
            client.close()
        finally:
            if self._lite_path is not None:
                lite.release(self._lite_path)

    # ------------------------------------------------------------------ data

    def _require_open(self) -> Any:
        if not self._dim or self._client is None:
            raise BackendError(f"{self._where} is not open; call open(dimension, fingerprint) first")
        return self._client

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        client = self._require_open()
        batch, matrix = common.validate_batch(chunks, vectors, self._dim)
        data = [rows.row(chunk, vec.tolist()) for chunk, vec in zip(batch, matrix, strict=True)]
        step = self._params.batch_size
        for i in range(0, len(data), step):
            self._call("upsert", client.upsert, self._name, data[i : i + step])
        self._unflushed = True
        if self._fast is not None:
            self._fast.add(batch, matrix)

    def search(
        self, vector: Sequence[float], top_k: int, filters: Sequence[Filter] = ()
    ) -> list[ScoredChunk]:
        self._require_open()
        common.check_top_k(top_k)
        query = common.query_vector(vector, self._dim).tolist()
        expr = filters_mod.milvus_expr(filtering.validate(filters))
        if expr is None:
            return []
        if self._fast is not None:
            return self._fast_search(query, top_k, filtering.validate(filters))
        params = {"metric_type": self._params.metric, "params": dict(self._params.search_params)}
        return self._ranked("vector", query, params, expr, top_k)

    def search_text(self, query: str, top_k: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        """BM25 full-text search over chunk texts (``full_text`` collections); higher scores are better.

        Filters apply exactly as in :meth:`search`. Chunks sharing no term with
        the query are not returned.
        """
        client = self._require_open()
        if self._params.full_text is None:
            raise ConfigError(
                f"{self._where}: full-text search is off; set store.params.full_text: true "
                "and re-ingest with --rebuild"
            )
        common.check_top_k(top_k)
        expr = filters_mod.milvus_expr(filtering.validate(filters))
        if expr is None or not query.strip():
            return []
        if self._unflushed and lite.is_lite(self._server_version()):
            # Lite re-indexes its memtable on every BM25 search (~0.9 s at 5k chunks); a flushed
            # segment keeps its index (~20 ms). Flushing an empty memtable is a no-op.
            self._unflushed = False
            self._call("flush", client.flush, self._name)
        return self._ranked(rows.SPARSE_FIELD, query, {"metric_type": "BM25", "params": {}}, expr, top_k)

    def _ranked(self, field: str, query: object, params: dict[str, Any], expr: str, top_k: int) -> list[ScoredChunk]:
        """One search on ``field``, ranked like every store (ties by chunk id, exactly ``top_k``)."""
        client = self._require_open()
        metric = params["metric_type"]
        limit = min(top_k + 16, common.MAX_TOP_K)
        while True:
            hits = self._call(
                "search", client.search, self._name, data=[query], filter=expr, limit=limit,
                output_fields=rows.OUTPUT_FIELDS, search_params=params, anns_field=field,
                consistency_level=self._params.consistency_level,
            )[0]
            results = [rows.scored(hit, metric) for hit in hits]
            ranked = common.rank(list(results), top_k)
            # Grow the window while a tie at the cut-off may continue past it.
            if len(hits) < limit or limit >= common.MAX_TOP_K or not ranked:
                return ranked
            if min(r.score for r in results) < ranked[-1].score:
                return ranked
            limit = min(limit * 4, common.MAX_TOP_K)

    def _fast_search(self, query: list[float], top_k: int, filters: Sequence[Filter]) -> list[ScoredChunk]:
        """Rank in the fast index, then fetch the rows by primary key (ids the store lacks are skipped)."""
        assert self._fast is not None
        if not self._fast_checked:
            self._check_fast()
        import numpy as np

        ranked = self._fast.search(np.asarray(query, dtype=np.float32), top_k, filters)
        if not ranked:
            return []
        expr = f"id in [{', '.join(filters_mod.milvus_literal(cid) for cid, _ in ranked)}]"
        found = self._call(
            "query", self._require_open().query, self._name, filter=expr, output_fields=rows.OUTPUT_FIELDS,
            consistency_level=self._params.consistency_level,
        )
        by_id = {str(hit["id"]): hit for hit in found}
        return [
            ScoredChunk(chunk=rows.scored({**by_id[cid], "distance": 0.0}, "IP").chunk, score=score)
            for cid, score in ranked if cid in by_id
        ]

    def _check_fast(self) -> None:
        """Refill the fast index from the collection when their sizes differ (a store used without a pipeline)."""
        assert self._fast is not None
        stored = self.count()
        if self._fast.size() != stored:
            logger.info("the fast index of %s holds %d chunks, the store %d; rebuilding it",
                        self._where, self._fast.size(), stored)
            self._fast.clear()
            for chunks, vectors in self.export(2048):
                self._fast.on_vectors(chunks, vectors)
            self._fast.rebuilds += 1
            self._fast.commit(None)
        self._fast_checked = True

    def _flush(self) -> None:
        """Flush Lite's memtable into a segment (searched and reopened far faster); once per ingest commit."""
        if self._client is not None and self._unflushed and self._dim:
            self._call("flush", self._client.flush, self._name)
            self._unflushed = False

    def export(self, batch_size: int = 256) -> Iterator[tuple[list[Chunk], list[list[float]]]]:
        """Every stored chunk with its vector, ``batch_size`` at a time (``query_iterator``)."""
        client = self._require_open()
        iterator = self._call(
            "query_iterator", client.query_iterator, self._name, batch_size=batch_size, filter="",
            output_fields=[*rows.OUTPUT_FIELDS, "vector"], consistency_level=self._params.consistency_level,
        )
        try:
            while page := self._call("query_iterator.next", iterator.next):
                chunks = [rows.scored({**hit, "distance": 0.0}, self._params.metric).chunk for hit in page]
                yield chunks, [[float(v) for v in hit["vector"]] for hit in page]
        finally:
            iterator.close()

    def delete(self, chunk_ids: Iterable[str]) -> None:
        # Our own quoting: pymilvus' delete(ids=...) wraps string ids in '...' unescaped.
        client = self._require_open()
        unique = sorted(common.string_ids(chunk_ids, "id"))
        step = self._params.batch_size
        for i in range(0, len(unique), step):
            expr = f"id in [{', '.join(filters_mod.milvus_literal(v) for v in unique[i : i + step])}]"
            self._call("delete", client.delete, self._name, filter=expr)
        self._unflushed = True
        if self._fast is not None:
            self._fast.remove(unique)


def _lite_path(uri: str, base_dir: Path | None) -> Path | None:
    """The Milvus Lite file ``uri`` names (relative to ``base_dir``), or None for a server URL."""
    if uri.startswith(("http://", "https://")):
        return None
    path = Path(uri).expanduser()
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path
