"""Pinecone records: chunk <-> vector dict, size limits, and structured filters -> filter JSON.

Layout of one record's metadata (Pinecone accepts string, number, boolean and
list-of-string values; no nulls, no nesting):

* ``doc_id``, ``source``: the chunk's fields (filterable);
* ``rag_text``: the chunk text;
* ``rag_metadata``: the chunk's whole metadata as JSON text, so it comes back
  exactly (Pinecone turns every number into a float and rejects nulls);
* every top-level metadata key holding a string, finite number or boolean is
  copied next to them so it can be filtered on (lists, dicts and nulls are not:
  a filter on them matches nothing, as on the other stores).

Filters become Pinecone's MongoDB-style JSON with values passed as JSON values,
never spliced into strings. ``ne`` is wrapped in ``$exists`` so a record lacking
the key never matches (the contract's SQL-style null semantics). Pinecone's
``$gt``/``$gte``/``$lt``/``$lte`` take numbers only, so a range on a string is an
InputError here rather than a silent mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from rag_app.backends.stores import _common as common
from rag_app.errors import InputError
from rag_app.filtering import FIELD_NAME, TYPED_FIELDS, is_finite_number
from rag_app.types import Chunk, Filter

MAX_METADATA_BYTES = 40 * 1024  # per record
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # per upsert request
MAX_UPSERT_VECTORS = 1000
MAX_ID_CHARS = 512
TEXT_KEY, META_KEY = "rag_text", "rag_metadata"
RESERVED_KEYS = frozenset({"doc_id", "source", TEXT_KEY, META_KEY})
_OPS = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_REQUEST_OVERHEAD = 1024  # {"vectors": [...], "namespace": ...} around the records


def check_id(chunk_id: str) -> None:
    """Pinecone ids are 1-512 ASCII characters without NUL."""
    if not chunk_id or len(chunk_id) > MAX_ID_CHARS or not chunk_id.isascii() or "\x00" in chunk_id:
        raise InputError(
            f"chunk id {chunk_id[:80]!r} cannot be a Pinecone vector id (1-{MAX_ID_CHARS} ASCII characters, "
            "no NUL); use rag_app's doc_id:n ids"
        )


def record(chunk: Chunk, vector: list[float]) -> dict[str, Any]:
    """``chunk`` as a Pinecone vector dict; InputError when its metadata exceeds 40 KB."""
    check_id(chunk.chunk_id)
    metadata: dict[str, Any] = {
        key: value
        for key, value in chunk.metadata.items()
        if key not in RESERVED_KEYS and FIELD_NAME.fullmatch(key)
        and (isinstance(value, str | bool) or is_finite_number(value))
    }
    metadata.update(
        doc_id=chunk.doc_id, source=chunk.source, **{TEXT_KEY: chunk.text, META_KEY: common.dumps(chunk.metadata)}
    )
    size = common.utf8_len(common.dumps(metadata))
    if size > MAX_METADATA_BYTES:
        raise InputError(
            f"chunk {chunk.chunk_id[:80]!r}: text + metadata is {size} bytes as Pinecone metadata, "
            f"Pinecone allows {MAX_METADATA_BYTES} per vector; lower the chunker's chunk_size or trim metadata"
        )
    return {"id": chunk.chunk_id, "values": vector, "metadata": metadata}


def chunk_from(vector_id: str, metadata: dict[str, Any] | None) -> Chunk:
    """Rebuild the chunk stored by :func:`record`."""
    meta = metadata or {}
    try:
        extra = json.loads(meta.get(META_KEY) or "{}")
    except ValueError:
        extra = {}
    return Chunk(
        chunk_id=vector_id,
        doc_id=str(meta.get("doc_id", "")),
        source=str(meta.get("source", "")),
        text=str(meta.get(TEXT_KEY, "")),
        metadata=extra if isinstance(extra, dict) else {},
    )


def batches(records: Sequence[dict[str, Any]], max_count: int) -> Iterator[list[dict[str, Any]]]:
    """Split ``records`` into upsert requests of at most ``max_count`` vectors and 2 MB of JSON."""
    limit = min(max_count, MAX_UPSERT_VECTORS)
    batch: list[dict[str, Any]] = []
    size = _REQUEST_OVERHEAD
    for rec in records:
        rec_size = common.utf8_len(json.dumps(rec, separators=(",", ":"), ensure_ascii=False)) + 1
        if batch and (len(batch) >= limit or size + rec_size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], _REQUEST_OVERHEAD
        batch.append(rec)
        size += rec_size
    if batch:
        yield batch


def filter_json(filters: Sequence[Filter]) -> dict[str, Any] | None:
    """Pinecone filter JSON for (validated) ``filters``.

    Returns:
        ``{}`` when there are no filters, ``None`` when they cannot match anything
        (an empty ``in`` list), else the ``$and`` of the conditions.

    Raises:
        InputError: a range on a string value, or a filter on a reserved key.
    """
    parts: list[dict[str, Any]] = []
    for flt in filters:
        if flt.field in RESERVED_KEYS - TYPED_FIELDS:
            raise InputError(f"filter field {flt.field!r} is reserved by the Pinecone store; rename the metadata key")
        if flt.op == "in":
            if not flt.value:
                return None
            if any(isinstance(v, bool) for v in flt.value):  # $in takes strings and numbers only
                parts.append({"$or": [{flt.field: {"$eq": v}} for v in flt.value]})
            else:
                parts.append({flt.field: {"$in": list(flt.value)}})
        elif flt.op == "ne":
            parts.append({"$and": [{flt.field: {"$exists": True}}, {flt.field: {"$ne": flt.value}}]})
        elif flt.op in ("gt", "gte", "lt", "lte"):
            if not is_finite_number(flt.value):
                raise InputError(
                    f"filter {flt.field} {flt.op} {flt.value!r}: Pinecone compares only numbers with "
                    "gt/gte/lt/lte; filter strings with eq, ne or in"
                )
            parts.append({flt.field: {_OPS[flt.op]: flt.value}})
        else:
            parts.append({flt.field: {_OPS[flt.op]: flt.value}})
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}
