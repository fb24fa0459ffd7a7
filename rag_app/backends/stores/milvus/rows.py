"""Milvus schema and conversions between rag_app chunks and Milvus rows / hits."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymilvus import CollectionSchema, DataType, Function, FunctionType, MilvusClient

from rag_app.backends.stores import _common as common
from rag_app.backends.stores._common import Metric
from rag_app.errors import ConfigError, InputError
from rag_app.types import Chunk, ScoredChunk

#: Collection property holding the pipeline fingerprint (JSON). Milvus Lite drops
#: schema descriptions but keeps properties across reopen; servers keep both.
FP_PROPERTY = "rag_app.fingerprint"
#: Collection property holding the full-text settings (JSON) the collection was built with.
FULL_TEXT_PROPERTY = "rag_app.full_text"
SPARSE_FIELD = "sparse"
LIMITS = {"id": 128, "doc_id": 64, "source": 1024, "text": 65535}  # VARCHAR max_length (bytes)
METADATA_MAX_BYTES = 65536
OUTPUT_FIELDS = ["id", "doc_id", "source", "text", "metadata"]


#: Lucene's English stop words (what Milvus' ``_english_`` list and ``english`` analyzer remove).
ENGLISH_STOP_WORDS = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
    "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
    "to", "was", "will", "with",
]


def _default_analyzer() -> dict[str, Any]:
    # Spelled out (not ``type: english``) so Milvus Lite and servers analyse text identically.
    return {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": ENGLISH_STOP_WORDS}]}


class FullText(BaseModel):
    """BM25 full-text search inside Milvus: analyzer and BM25 parameters, fixed at collection creation."""

    model_config = ConfigDict(extra="forbid")
    analyzer: dict[str, Any] = Field(
        default_factory=_default_analyzer,
        description="Milvus analyzer_params, e.g. {type: english} on a Milvus >= 2.5 server",
    )
    k1: float = Field(default=1.5, gt=0)
    b: float = Field(default=0.75, ge=0, le=1)

    def settings(self) -> str:
        """These settings as the JSON recorded in the collection."""
        return common.dumps(self.model_dump())


def schema(dimension: int, full_text: FullText | None = None) -> CollectionSchema:
    """Explicit schema: typed doc_id/source (fast filters), JSON metadata, no dynamic fields.

    With ``full_text`` the text field is analysed and a BM25 function fills a
    sparse field from it at every insert/upsert (so it never drifts from the rows).
    """
    result = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    result.add_field("id", DataType.VARCHAR, is_primary=True, max_length=LIMITS["id"])
    result.add_field("doc_id", DataType.VARCHAR, max_length=LIMITS["doc_id"])
    result.add_field("source", DataType.VARCHAR, max_length=LIMITS["source"])
    analysed: dict[str, Any] = {}
    if full_text is not None:
        analysed = {"enable_analyzer": True, "analyzer_params": full_text.analyzer}
    result.add_field("text", DataType.VARCHAR, max_length=LIMITS["text"], **analysed)
    result.add_field("metadata", DataType.JSON)
    result.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    if full_text is not None:
        result.add_field(SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR)
        result.add_function(Function(
            name="text_bm25", function_type=FunctionType.BM25,
            input_field_names=["text"], output_field_names=[SPARSE_FIELD],
        ))
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


def scored(hit: dict[str, Any], metric: Metric | Literal["BM25"]) -> ScoredChunk:
    entity = hit.get("entity", hit)
    chunk = Chunk(
        chunk_id=str(hit.get("id", entity.get("id"))),
        doc_id=entity["doc_id"],
        source=entity["source"],
        text=entity["text"],
        metadata=dict(entity.get("metadata") or {}),
    )
    if metric == "BM25":  # never negative: Milvus Lite 3.x returns it negated, servers as is
        return ScoredChunk(chunk=chunk, score=abs(float(hit["distance"])))
    return ScoredChunk(chunk=chunk, score=common.score_from_distance(metric, hit["distance"]))


def check_full_text(where: str, info: dict[str, Any], full_text: FullText) -> None:
    """Raise a one-line ConfigError unless the collection was built with these full-text settings."""
    if not any(f.get("name") == SPARSE_FIELD for f in info.get("fields", [])):
        raise ConfigError(
            f"{where} was created without full-text search; re-ingest with --rebuild "
            "to add it (or set store.params.full_text: false)"
        )
    raw = (info.get("properties") or {}).get(FULL_TEXT_PROPERTY) or "null"
    try:
        stored = common.dumps(json.loads(raw))
    except ValueError:
        stored = raw
    if stored != full_text.settings():
        raise ConfigError(
            f"{where} was built with full_text {stored} but the config asks for {full_text.settings()}; "
            "set store.params.full_text to match or re-ingest with --rebuild"
        )


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
