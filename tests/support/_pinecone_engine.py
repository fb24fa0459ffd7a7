"""The index engine behind ``pinecone_server``: strict request validation, filters, exact search."""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from typing import Any

MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT = 1000
MAX_TOP_K = 10_000
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?")
_METRICS = {"cosine", "dotproduct", "euclidean"}
_FILTER_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}


class ApiError(Exception):
    """An HTTP error in Pinecone's shape (data plane: gRPC-style code; control plane: error object)."""

    def __init__(self, status: int, code: int | str, message: str, *, control: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.control = status, code, message, control

    def payload(self) -> dict[str, Any]:
        if self.control or isinstance(self.code, str):
            return {"error": {"code": str(self.code), "message": self.message}, "status": self.status}
        return {"code": self.code, "message": self.message, "details": []}


def bad(message: str) -> ApiError:
    return ApiError(400, 3, message)


def _only(body: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad(f"{what}: expected a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad(f"{what}: unknown field(s) {unknown}")
    return body


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_create(body: Any) -> tuple[str, int, str]:
    """Validate a control-plane create request; return (name, dimension, metric)."""
    allowed = {"name", "schema", "deployment", "read_capacity", "deletion_protection", "tags", "cmek_id"}
    try:
        body = _only(body, allowed, "create index")
        name = body.get("name")
        fields = body["schema"]["fields"]
        (field,) = fields.values()
        dimension, metric = field["dimension"], field.get("metric", "cosine")
    except (ApiError, KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, "INVALID_ARGUMENT", f"invalid create request: {exc}", control=True) from exc
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ApiError(400, "INVALID_ARGUMENT", f"invalid index name {name!r}", control=True)
    if field.get("type") != "dense_vector" or not isinstance(dimension, int) or not 1 <= dimension <= 20000:
        message = "schema must declare one dense_vector of dimension 1-20000"
        raise ApiError(400, "INVALID_ARGUMENT", message, control=True)
    if metric not in _METRICS:
        raise ApiError(400, "INVALID_ARGUMENT", f"invalid metric {metric!r}", control=True)
    return name, dimension, metric


# --------------------------------------------------------------------------- filters


def check_filter(flt: Any, depth: int = 0) -> None:
    if not isinstance(flt, dict) or depth > 10:
        raise bad("filter must be a JSON object")
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise bad(f"{key} must be a non-empty array")
            for sub in cond:
                check_filter(sub, depth + 1)
        elif key.startswith("$"):
            raise bad(f"{key} is not a valid top-level operator")
        elif isinstance(cond, dict):
            if not cond:
                raise bad(f"empty condition on {key!r}")
            for op, value in cond.items():
                _check_op(key, op, value)
        else:
            _check_op(key, "$eq", cond)


def _check_op(field: str, op: str, value: Any) -> None:
    if op not in _FILTER_OPS:
        raise bad(f"{op} is not a valid operator (field {field!r})")
    if op in ("$eq", "$ne") and not (isinstance(value, str | bool) or _is_num(value)):
        raise bad(f"{op} on {field!r} must be a string, number or boolean")
    if op in ("$gt", "$gte", "$lt", "$lte") and not _is_num(value):
        raise bad(f"{op} on {field!r} must be a number")
    if op in ("$in", "$nin") and (
        not isinstance(value, list) or not all(isinstance(v, str) or _is_num(v) for v in value)
    ):
        raise bad(f"{op} on {field!r} must be an array of strings or numbers")
    if op == "$exists" and not isinstance(value, bool):
        raise bad(f"$exists on {field!r} must be a boolean")


def matches(meta: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches(meta, sub) for sub in cond)
        elif key == "$or":
            ok = any(matches(meta, sub) for sub in cond)
        elif isinstance(cond, dict):
            ok = all(_op(meta.get(key), key in meta, op, value) for op, value in cond.items())
        else:
            ok = _op(meta.get(key), key in meta, "$eq", cond)
        if not ok:
            return False
    return True


def _same(stored: Any, value: Any) -> bool:
    if isinstance(stored, list):
        return any(_same(s, value) for s in stored)
    if isinstance(stored, bool) or isinstance(value, bool):
        return isinstance(stored, bool) and isinstance(value, bool) and stored == value
    if isinstance(stored, str) or isinstance(value, str):
        return isinstance(stored, str) and isinstance(value, str) and stored == value
    return float(stored) == float(value)


def _op(stored: Any, present: bool, op: str, value: Any) -> bool:
    """MongoDB semantics, as Pinecone documents: $ne / $nin also match records lacking the key."""
    if op == "$exists":
        return present is value
    if op == "$eq":
        return present and _same(stored, value)
    if op == "$ne":
        return not (present and _same(stored, value))
    if op == "$in":
        return present and any(_same(stored, v) for v in value)
    if op == "$nin":
        return not (present and any(_same(stored, v) for v in value))
    if not present or not _is_num(stored):
        return False
    return {"$gt": stored > value, "$gte": stored >= value, "$lt": stored < value, "$lte": stored <= value}[op]


# --------------------------------------------------------------------------- index


class Index:
    """One serverless index: namespaces of ``id -> (values, metadata)``."""

    def __init__(self, name: str, dimension: int, metric: str) -> None:
        self.name, self.dimension, self.metric = name, dimension, metric
        self.host = ""
        self.namespaces: dict[str, dict[str, tuple[list[float], dict[str, Any] | None]]] = {}
        self._lock = threading.Lock()

    def model(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": self.dimension,
                                              "metric": self.metric}}},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled", "host": self.host,
        }

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        route = {
            ("POST", "/vectors/upsert"): self.upsert, ("POST", "/query"): self.query,
            ("POST", "/vectors/delete"): self.delete, ("POST", "/describe_index_stats"): self.stats,
        }.get((method, path))
        with self._lock:
            if route is not None:
                return 200, route(body)
            if (method, path) == ("GET", "/vectors/fetch"):
                return 200, self.fetch(query)
            if (method, path) == ("GET", "/vectors/list"):
                return 200, self.list(query)
        raise ApiError(404, 5, f"no route {method} {path}")

    def _values(self, values: Any, what: str) -> list[float]:
        if not isinstance(values, list) or not all(_is_num(v) for v in values):
            raise bad(f"{what}: values must be an array of finite numbers")
        if len(values) != self.dimension:
            raise bad(f"Vector dimension {len(values)} does not match the dimension of the index {self.dimension}")
        if self.metric == "cosine" and not any(values):
            raise bad(f"{what}: Dense vectors must contain at least one non-zero value")
        return [float(v) for v in values]

    def upsert(self, body: Any) -> dict[str, Any]:
        body = _only(body, {"vectors", "namespace"}, "upsert")
        vectors, ns = body.get("vectors"), body.get("namespace", "")
        if not isinstance(vectors, list) or not 1 <= len(vectors) <= MAX_UPSERT:
            raise bad(f"upsert takes 1-{MAX_UPSERT} vectors, got {len(vectors) if isinstance(vectors, list) else 0}")
        staged = {}
        for vec in vectors:
            vec = _only(vec, {"id", "values", "metadata", "sparseValues"}, "vector")
            vid = vec.get("id")
            if not isinstance(vid, str) or not 1 <= len(vid) <= 512 or not vid.isascii():
                raise bad(f"invalid vector id {vid!r}")
            if "sparseValues" in vec:
                raise bad("this index does not support sparse values")
            staged[vid] = (self._values(vec.get("values"), vid), _metadata(vid, vec.get("metadata")))
        self.namespaces.setdefault(str(ns), {}).update(staged)
        return {"upsertedCount": len(vectors)}

    def query(self, body: Any) -> dict[str, Any]:
        allowed = {"topK", "vector", "id", "namespace", "filter", "includeValues", "includeMetadata",
                   "sparseVector", "scanFactor", "maxCandidates"}
        body = _only(body, allowed, "query")
        top_k, ns = body.get("topK"), str(body.get("namespace", ""))
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise bad(f"topK must be between 1 and {MAX_TOP_K}")
        flt = body.get("filter")
        if flt is not None:
            check_filter(flt)
        rows = self.namespaces.get(ns, {})
        if "vector" in body:
            q = self._values(body["vector"], "query")
        elif body.get("id") in rows:
            q = rows[body["id"]][0]
        else:
            raise bad("query needs a vector or the id of a stored vector")
        # Ties come back in reverse id order, so clients must not rely on server tie-breaking.
        scored = [(self._score(q, v), vid, v, m) for vid, (v, m) in sorted(rows.items(), reverse=True)
                  if not flt or matches(m or {}, flt)]
        scored.sort(key=lambda t: t[0], reverse=self.metric != "euclidean")
        out = []
        for score, vid, values, meta in scored[:top_k]:
            match: dict[str, Any] = {"id": vid, "score": score, "values": values if body.get("includeValues") else []}
            if body.get("includeMetadata") and meta is not None:
                match["metadata"] = meta
            out.append(match)
        return {"matches": out, "namespace": ns, "usage": {"readUnits": 1}}

    def _score(self, q: list[float], v: list[float]) -> float:
        if self.metric == "euclidean":
            return sum((a - b) ** 2 for a, b in zip(q, v, strict=True))
        dot = sum(a * b for a, b in zip(q, v, strict=True))
        if self.metric == "cosine":
            return dot / (math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in v)))
        return dot

    def fetch(self, query: dict[str, list[str]]) -> dict[str, Any]:
        _only(query, {"ids", "namespace"}, "fetch")
        ids, ns = query.get("ids", []), (query.get("namespace") or [""])[0]
        if not ids or len(ids) > 1000:
            raise bad("fetch takes 1-1000 ids")
        rows = self.namespaces.get(ns, {})
        found = {i: {"id": i, "values": rows[i][0], **({"metadata": rows[i][1]} if rows[i][1] else {})}
                 for i in ids if i in rows}
        return {"vectors": found, "namespace": ns, "usage": {"readUnits": 1}}

    def delete(self, body: Any) -> dict[str, Any]:
        body = _only(body, {"ids", "deleteAll", "namespace", "filter"}, "delete")
        ns = str(body.get("namespace", ""))
        if "filter" in body:
            raise bad("Serverless and Starter indexes do not support deleting with metadata filtering")
        if ("ids" in body) == bool(body.get("deleteAll")):
            raise bad("delete needs exactly one of ids or deleteAll")
        if ns not in self.namespaces:
            if body.get("deleteAll"):
                raise ApiError(404, 5, "Namespace not found")
            return {}
        ids = body.get("ids")
        if body.get("deleteAll"):
            self.namespaces.pop(ns)
            return {}
        if not isinstance(ids, list) or not 1 <= len(ids) <= 1000 or not all(isinstance(i, str) for i in ids):
            raise bad("delete takes 1-1000 string ids")
        rows = self.namespaces[ns]
        for i in ids:
            rows.pop(i, None)
        if not rows:
            del self.namespaces[ns]  # empty namespaces disappear, as on Pinecone
        return {}

    def list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        _only(query, {"namespace", "prefix", "limit", "paginationToken"}, "list")
        ns, prefix = (query.get("namespace") or [""])[0], (query.get("prefix") or [""])[0]
        raw_limit = (query.get("limit") or ["100"])[0]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise bad("limit must be between 1 and 100")
        after = ""
        if query.get("paginationToken"):
            try:
                after = json.loads(base64.urlsafe_b64decode(query["paginationToken"][0]))["after"]
            except (ValueError, KeyError, TypeError) as exc:
                raise bad("invalid pagination token") from exc
        ids = sorted(i for i in self.namespaces.get(ns, {}) if i.startswith(prefix) and i > after)
        page = ids[: int(raw_limit)]
        out: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": ns, "usage": {"readUnits": 1}}
        if len(ids) > len(page):
            token = base64.urlsafe_b64encode(json.dumps({"after": page[-1]}).encode()).decode()
            out["pagination"] = {"next": token}
        return out

    def stats(self, body: Any) -> dict[str, Any]:
        body = _only(body, {"filter"}, "describe_index_stats")
        if "filter" in body:
            raise bad("Serverless and Starter indexes do not support describing index stats with metadata filtering")
        counts = {ns: {"vectorCount": len(rows)} for ns, rows in self.namespaces.items() if rows}
        return {"namespaces": counts, "dimension": self.dimension, "indexFullness": 0.0,
                "totalVectorCount": sum(c["vectorCount"] for c in counts.values()),
                "metric": self.metric, "vectorType": "dense"}


def _metadata(vid: str, meta: Any) -> dict[str, Any] | None:
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise bad(f"vector {vid}: metadata must be an object")
    size = len(json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise bad(f"Metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes per vector")
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if not key or key.startswith("$"):
            raise bad(f"vector {vid}: invalid metadata key {key!r}")
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise bad(f"vector {vid}: metadata list {key!r} must hold only strings")
        elif not (isinstance(value, str | bool) or _is_num(value)):
            raise bad(f"vector {vid}: metadata value for {key!r} must be a string, number, boolean or list of "
                      "strings (null is not supported)")
        out[key] = float(value) if _is_num(value) else value  # numbers are stored as 64-bit floats
    return out
