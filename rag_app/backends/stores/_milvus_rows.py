"""Milvus schema and conversions between rag_app chunks and Milvus rows / hits."""

from __future__ import annotations

import json
from typing import Any

from pymilvus import CollectionSchema, DataType, MilvusClient

from rag_app.backends.stores import _common as common
from rag_app.backends.stores._common import Metric
from rag_app.errors import ConfigError, InputError
from rag_app.types import Chunk, ScoredChunk

#: Collection property holding the pipeline fingerprint (JSON). Milvus Lite drops
#: schema descriptions but keeps properties across reopen; servers keep both.
FP_PROPERTY = "rag_app.fingerprint"
LIMITS = {"id": 128, "doc_id": 64, "source": 1024, "text": 65535}  # VARCHAR max_length (bytes)
METADATA_MAX_BYTES = 65536
OUTPUT_FIELDS = ["id", "doc_id", "source", "text", "metadata"]


def schema(dimension: int) -> CollectionSchema:
    """Explicit schema: typed doc_id/source (fast filters), JSON metadata, no dynamic fields."""
    result = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    result.add_field("id", DataType.VARCHAR, is_primary=True, max_length=LIMITS["id"])
    result.add_field("doc_id", DataType.VARCHAR, max_length=LIMITS["doc_id"])
    result.add_field("source", DataType.VARCHAR, max_length=LIMITS["source"])
    result.add_field("text", DataType.VARCHAR, max_length=LIMITS["text"])
    result.add_field("metadata", DataType.JSON)
    result.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return result


def row(chunk: Chunk, vector: list[float]) -> dict[str, Any]:
    """``chunk`` as a Milvus row; InputError if a field exceeds its VARCHAR limit (in bytes)."""
    data: dict[str, Any] = {
        "id": chunk.chunk_id, "doc_id": chunk.doc_id, "source": chunk.source, "text": chunk.text,
    }
    for field, limit in LIMITS.items():
        size = common.utf8_len(data[field])
        if size > limit:
            raise InputError(
                f"chunk {chunk.chunk_id[:80]!r}: {field} is {size} bytes, Milvus allows {limit}; "
                "lower the chunk size (text) or shorten ids/sources"
            )
    if common.utf8_len(common.dumps(chunk.metadata)) > METADATA_MAX_BYTES:
        raise InputError(
            f"chunk {chunk.chunk_id[:80]!r}: metadata exceeds {METADATA_MAX_BYTES} bytes as JSON"
        )
    data["metadata"] = chunk.metadata
    data["vector"] = vector
    return data


def scored(hit: dict[str, Any], metric: Metric) -> ScoredChunk:
    entity = hit.get("entity", hit)
    chunk = Chunk(
        chunk_id=str(hit.get("id", entity.get("id"))),
        doc_id=entity["doc_id"],
        source=entity["source"],
        text=entity["text"],
        metadata=dict(entity.get("metadata") or {}),
    )
    return ScoredChunk(chunk=chunk, score=common.score_from_distance(metric, hit["distance"]))


def read_fingerprint(info: dict[str, Any]) -> dict[str, object] | None:
    raw = (info.get("properties") or {}).get(FP_PROPERTY)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def vector_dim(info: dict[str, Any], where: str) -> int:
    fields = {f["name"]: f for f in info.get("fields", [])}
    missing = {"id", "doc_id", "source", "text", "metadata", "vector"} - fields.keys()
    if missing:
        raise ConfigError(
            f"{where} exists but lacks fields {sorted(missing)} (not a rag_app collection); "
            "use another collection name or drop it"
        )
    return int(fields["vector"].get("params", {}).get("dim", 0))
