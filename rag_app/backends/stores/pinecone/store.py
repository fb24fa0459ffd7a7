"""Pinecone vector store over the official ``pinecone`` SDK (REST data plane).

One rag_app collection is one *namespace* of a Pinecone index. The pipeline
fingerprint lives in a reserved record ``fingerprint:<namespace>`` in the
reserved namespace ``__rag_app_meta__`` of the same index (Pinecone has no
collection properties), fetched and checked on ``open()``. Chunk text and the
full metadata travel in the record metadata (see ``_pinecone_records``).

With ``host`` set the store talks to that index host only and never touches the
control plane (works with the cloud and with a local Pinecone-API server).
Without it, the index is described - and created when ``create_index`` is true -
through the control plane at ``controller_host`` (default: Pinecone's API).
``drop()`` deletes the namespace's vectors and its fingerprint record, never the
index: an index may hold other namespaces, and deleting one is not undoable.

SDK calls with retries and their errors as ours (``client``), record
conversion, size limits and filters (``records``) and the paged operations and
consistency polling (``ops``) live beside it; this module is one namespace's
lifecycle (open and its checks, writes, searches, drop).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pinecone import Pinecone, ServerlessSpec
from pydantic import BaseModel, ConfigDict, Field

from rag_app import filtering as filters_mod
from rag_app.backends.stores import _common as common
from rag_app.backends.stores._common import Metric
from rag_app.backends.stores.pinecone import ops, records
from rag_app.backends.stores.pinecone.client import NotFoundError, Retrying
from rag_app.errors import BackendError, ConfigError, FingerprintMismatchError, InputError
from rag_app.types import Chunk, Filter, ScoredChunk

logger = logging.getLogger(__name__)

META_NAMESPACE = "__rag_app_meta__"
MAX_TOP_K = 10_000  # Pinecone's query limit
_METRICS: dict[str, str] = {"COSINE": "cosine", "IP": "dotproduct", "L2": "euclidean"}
_INDEX_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?")
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class PineconeStore:
    """Chunks and vectors in one namespace of a Pinecone index."""

    capabilities: ClassVar[dict[str, str]] = {
        "filter_ops": "eq ne in gt gte lt lte",
        "range_filters": "numbers only",
        "sparse_hybrid": "no (dense only; Pinecone has sparse-dense dotproduct indexes)",
        "max_batch": "1000 vectors and 2 MB per upsert request (split by size); 40 KB metadata per vector",
        "max_top_k": str(MAX_TOP_K),
        "consistency": "eventual; writes wait up to consistency_wait_s for fetch and stats to settle",
        "persistence": "managed service (serverless index; one namespace per collection)",
    }

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        index: str = Field(description="lowercase letters, digits and '-'; at most 45", pattern=_INDEX_NAME.pattern)
        namespace: str = Field(default="rag_chunks", pattern=_NAMESPACE.pattern)
        api_key_env: str = "PINECONE_API_KEY"
        host: str | None = Field(default=None, description="index host URL; skips the control plane")
        controller_host: str | None = Field(default=None, description="control-plane URL (default: Pinecone's)")
        cloud: str = "aws"
        region: str = "us-east-1"
        metric: Metric = "COSINE"
        create_index: bool = Field(default=False, description="create a serverless index when it is missing")
        batch_size: int = Field(default=200, gt=0, le=records.MAX_UPSERT_VECTORS)
        timeout_s: float = Field(default=30.0, gt=0)
        retries: int = Field(default=3, ge=0, le=10)
        backoff_s: float = Field(default=0.5, ge=0, le=30)
        consistency_wait_s: float = Field(default=30.0, ge=0, description="0 = do not wait after writes")
        poll_interval_s: float = Field(default=0.25, gt=0)
        create_timeout_s: int = Field(default=300, gt=0)

    #: Params that say where the collection (index namespace) lives (see ``rag_app.store_identity``).
    location_params: ClassVar[tuple[str, ...]] = ("index", "namespace", "host", "controller_host")
    #: Params that change how the index is reached or created, not what the namespace holds.
    runtime_params: ClassVar[tuple[str, ...]] = (
        "api_key_env", "cloud", "region", "create_index", "batch_size", "timeout_s", "retries",
        "backoff_s", "consistency_wait_s", "poll_interval_s", "create_timeout_s",
    )

    @classmethod
    def location(cls, params: Params, **_: object) -> dict[str, object]:
        """Index name, namespace and the hosts that resolve the index."""
        return {
            "index": params.index,
            "namespace": params.namespace,
            "host": (params.host or "").rstrip("/"),
            "controller_host": (params.controller_host or "").rstrip("/"),
        }

    @classmethod
    def isolated(cls, params: dict[str, Any], folder: Path, name: str) -> dict[str, Any]:
        """``params`` moved to namespace ``eval_<name>`` of the same index (never the user's namespace)."""
        return {**params, "namespace": f"eval_{name}"}

    def __init__(self, params: Params, **_: object) -> None:
        if params.namespace == META_NAMESPACE:
            raise ConfigError(f"store 'pinecone': namespace {META_NAMESPACE!r} is reserved")
        self._params = params
        self._where = f"Pinecone index {params.index!r} namespace {params.namespace!r}"
        self._call = Retrying(self._where, params.retries, params.backoff_s, params.api_key_env)
        self._lock = threading.Lock()
        self._control: Any = None
        self._index: Any = None
        self._dim = 0
        self._opened_fp: dict[str, object] | None = None

    # ------------------------------------------------------------------ connection

    def _api_key(self) -> str:
        key = os.environ.get(self._params.api_key_env, "")
        if not key:
            env = self._params.api_key_env
            raise ConfigError(f"store 'pinecone': environment variable {env} (api_key_env) is unset")
        return key

    def _connect(self, *, create_dim: int = 0) -> Any:
        """The data-plane client, or None when the index does not exist (and was not created)."""
        with self._lock:
            if self._index is not None:
                return self._index
            p = self._params
            key = self._api_key()
            if p.host:
                self._index = self._call("connect", Pinecone(api_key=key, timeout=p.timeout_s).Index, host=p.host)
                return self._index
            if self._control is None:
                self._control = Pinecone(api_key=key, host=p.controller_host or None, timeout=p.timeout_s)
            try:
                model = self._call("describe_index", self._control.describe_index, p.index)
            except NotFoundError:
                if not (create_dim and p.create_index):
                    return None
                model = self._create(create_dim)
            self._index = self._control.Index(host=model.host)
            return self._index

    def _create(self, dimension: int) -> Any:
        p = self._params
        spec = ServerlessSpec(cloud=p.cloud, region=p.region)
        model = self._call(
            "create_index", self._control.create_index, name=p.index, dimension=dimension,
            metric=_METRICS[p.metric], spec=spec, timeout=p.create_timeout_s,
        )
        logger.info("created Pinecone index %r (dimension %d, %s)", p.index, dimension, _METRICS[p.metric])
        return model

    def _stats(self, index: Any) -> Any:
        return self._call("describe_index_stats", index.describe_index_stats)

    def _ns_count(self, index: Any, namespace: str | None = None) -> int:
        summary = self._stats(index).namespaces.get(namespace or self._params.namespace)
        return int(summary.vector_count) if summary is not None else 0

    # ------------------------------------------------------------------ lifecycle

    def open(self, dimension: int, fingerprint: dict[str, object]) -> None:
        wanted = common.canonical(fingerprint)
        if self._index is not None and (self._dim, self._opened_fp) == (dimension, wanted):
            return
        index = self._connect(create_dim=dimension)
        if index is None:
            raise ConfigError(
                f"{self._where}: the index does not exist; create it or set create_index: true in the store params"
            )
        stats = self._stats(index)
        metric = (stats.metric or "").lower()
        if metric:
            stored = {v: k for k, v in _METRICS.items()}.get(metric, metric)
            fix = "re-ingest into a new index with --rebuild"
            common.check_metric(self._where, stored, self._params.metric, fix=fix)
        record = self._fp_record(index)
        if record is not None:
            stored_dim = int(record.get("dimension", 0))
            common.check_fingerprint(self._where, _json(record.get("fingerprint")), stored_dim, wanted, dimension)
            common.check_metric(self._where, record.get("metric"), self._params.metric)
        else:
            if stats.dimension and int(stats.dimension) != dimension:
                raise FingerprintMismatchError(
                    f"{self._where}: the index has vector dimension {stats.dimension} vs {dimension} requested; "
                    "use the embedder it was built for, or another index"
                )
            if self._ns_count(index):
                common.check_fingerprint(self._where, None, 0, wanted, dimension)
            self._write_fp(index, dimension, wanted)
        self._dim, self._opened_fp = dimension, wanted

    def _fp_id(self) -> str:
        return f"fingerprint:{self._params.namespace}"

    def _fp_record(self, index: Any) -> dict[str, Any] | None:
        found = self._call("fetch", index.fetch, ids=[self._fp_id()], namespace=META_NAMESPACE).vectors
        vec = found.get(self._fp_id())
        return dict(vec.metadata or {}) if vec is not None else None

    def _write_fp(self, index: Any, dimension: int, fingerprint: dict[str, object]) -> None:
        meta = {"fingerprint": common.dumps(fingerprint), "dimension": dimension, "metric": self._params.metric,
                "namespace": self._params.namespace, "format": 1}
        unit = [1.0] + [0.0] * (dimension - 1)
        vector = {"id": self._fp_id(), "values": unit, "metadata": meta}
        self._call("upsert", index.upsert, vectors=[vector], namespace=META_NAMESPACE)
        self._settle(index, present=[self._fp_id()], namespace=META_NAMESPACE)

    def fingerprint(self) -> dict[str, object] | None:
        """The recorded fingerprint; None if nothing is stored, {} if vectors exist without one."""
        index = self._connect()
        if index is None:
            return None
        record = self._fp_record(index)
        if record is not None:
            return _json(record.get("fingerprint")) or {}
        return {} if self._ns_count(index) else None

    def count(self) -> int:
        index = self._connect()
        return self._ns_count(index) if index is not None else 0

    def drop(self) -> None:
        index = self._connect()
        if index is not None:
            for namespace, what in ((self._params.namespace, "delete_all"), (META_NAMESPACE, "delete")):
                try:
                    if namespace == META_NAMESPACE:
                        self._call(what, index.delete, ids=[self._fp_id()], namespace=namespace)
                    else:
                        self._call(what, index.delete, delete_all=True, namespace=namespace)
                except NotFoundError:
                    pass  # the namespace never had vectors
            self._settle(index, absent=[self._fp_id()], namespace=META_NAMESPACE)
            self._settle(index, expect_count=0)
        self._dim, self._opened_fp = 0, None

    def close(self) -> None:
        with self._lock:
            index, control, self._index, self._control = self._index, self._control, None, None
            self._dim, self._opened_fp = 0, None
        for client in (index, control):
            if client is not None:
                client.close()

    # ------------------------------------------------------------------ data

    def _require_open(self) -> Any:
        if not self._dim or self._index is None:
            raise BackendError(f"{self._where} is not open; call open(dimension, fingerprint) first")
        return self._index

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        index = self._require_open()
        batch, matrix = common.validate_batch(chunks, vectors, self._dim)
        recs = [records.record(chunk, vec.tolist()) for chunk, vec in zip(batch, matrix, strict=True)]
        for part in records.batches(recs, self._params.batch_size):
            self._call("upsert", index.upsert, vectors=part, namespace=self._params.namespace)
        if recs:
            self._settle(index, present=[r["id"] for r in recs[-8:]])

    def search(self, vector: Sequence[float], top_k: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        index = self._require_open()
        common.check_top_k(top_k)
        if top_k > MAX_TOP_K:
            raise InputError(f"top_k must be at most {MAX_TOP_K} on Pinecone, got {top_k}")
        query = common.query_vector(vector, self._dim).tolist()
        flt = records.filter_json(filters_mod.validate(filters))
        if flt is None:
            return []
        limit = min(top_k + 16, MAX_TOP_K)
        while True:  # grow the window while a tie at the cut-off may continue past it
            matches = self._call(
                "query", index.query, vector=query, top_k=limit, namespace=self._params.namespace,
                filter=flt or None, include_metadata=True,
            ).matches
            sign = -1.0 if self._params.metric == "L2" else 1.0  # euclidean scores are squared distances
            results = [ScoredChunk(records.chunk_from(m.id, m.metadata), sign * float(m.score)) for m in matches]
            ranked = common.rank(list(results), top_k)
            if len(matches) < limit or limit >= MAX_TOP_K or not ranked:
                return ranked
            if min(r.score for r in results) < ranked[-1].score:
                return ranked
            limit = min(limit * 4, MAX_TOP_K)

    def delete(self, chunk_ids: Iterable[str]) -> None:
        index = self._require_open()
        ids = sorted(common.string_ids(chunk_ids, "id"))
        for chunk_id in ids:
            records.check_id(chunk_id)
        self._delete_ids(index, ids)

    def _delete_ids(self, index: Any, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), records.MAX_UPSERT_VECTORS):
            self._call("delete", index.delete, ids=list(ids[i : i + records.MAX_UPSERT_VECTORS]),
                       namespace=self._params.namespace)
        if ids:
            self._settle(index, absent=list(ids[-8:]))

    def export(self, batch_size: int = 100) -> Iterator[tuple[list[Chunk], list[list[float]]]]:
        """Every stored chunk with its vector, ``batch_size`` at a time (list ids, then fetch)."""
        index = self._require_open()
        return ops.export(self._call, index, self._params.namespace, batch_size)

    # ------------------------------------------------------------------ consistency

    def _settle(self, index: Any, *, present: Sequence[str] = (), absent: Sequence[str] = (),
                namespace: str | None = None, expect_count: int | None = None) -> None:
        """Wait (at most ``consistency_wait_s``) until fetch shows the write and the count is stable."""
        ns = namespace or self._params.namespace
        settled = ops.settle(
            lambda: self._ns_count(index, ns),
            lambda ids: set(self._call("fetch", index.fetch, ids=list(ids), namespace=ns).vectors),
            present=present, absent=absent, expect_count=expect_count,
            budget_s=self._params.consistency_wait_s, interval_s=self._params.poll_interval_s,
        )
        if not settled:
            logger.warning("%s: writes not visible after %.1f s (eventual consistency)",
                           self._where, self._params.consistency_wait_s)


def _json(text: object) -> dict[str, object] | None:
    import json

    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
