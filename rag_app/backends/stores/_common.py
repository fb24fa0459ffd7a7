"""Validation and result helpers shared by every vector store backend.

Keeping these in one place is what makes the backends behave identically:
the same inputs are rejected with the same messages before anything is
written, and results are ordered the same way (score descending, ties by
``chunk_id``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from rag_app.errors import ConfigError, FingerprintMismatchError, InputError
from rag_app.readable import fingerprint_difference
from rag_app.types import Chunk, ScoredChunk

Metric = Literal["COSINE", "IP", "L2"]

#: Largest ``top_k`` any backend accepts (Milvus' own limit).
MAX_TOP_K = 16384

_REBUILD_HINT = (
    "use the embedder/chunker it was built with, "
    "or re-ingest with --rebuild / a new collection name"
)


def validate_batch(
    chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], dimension: int
) -> tuple[list[Chunk], np.ndarray]:
    """Check an upsert batch and return it de-duplicated by ``chunk_id`` (last wins).

    Metadata comes back as its JSON round-trip, so every store holds the same thing.

    Raises:
        InputError: lengths differ, a vector has the wrong dimension, a value is
            NaN/inf, or metadata is not a JSON-able dict.
    """
    if len(chunks) != len(vectors):
        raise InputError(
            f"upsert got {len(chunks)} chunks but {len(vectors)} vectors; pass one vector per chunk"
        )
    for chunk in chunks:
        if not chunk.chunk_id:
            raise InputError(
                f"a chunk of document {chunk.doc_id!r} has an empty chunk_id; give every chunk an id"
            )
    matrix = as_matrix(vectors, dimension, what="vector")
    last: dict[str, int] = {}
    for i, chunk in enumerate(chunks):
        last[chunk.chunk_id] = i
    keep = sorted(last.values())
    return [_normalised(chunks[i]) for i in keep], matrix[keep]


def _normalised(chunk: Chunk) -> Chunk:
    """``chunk`` with its metadata as a JSON round-trip (what any store gives back)."""
    if not isinstance(chunk.metadata, dict):
        raise InputError(
            f"chunk {chunk.chunk_id!r}: metadata must be a dict, got {type(chunk.metadata).__name__}"
        )
    try:
        metadata = json.loads(dumps(chunk.metadata))
    except (TypeError, ValueError) as exc:
        raise InputError(f"chunk {chunk.chunk_id!r}: metadata must be JSON-serialisable ({exc})") from exc
    return replace(chunk, metadata=metadata)


def as_matrix(vectors: Sequence[Sequence[float]], dimension: int, *, what: str) -> np.ndarray:
    """``vectors`` as a finite float32 ``(n, dimension)`` matrix, or an InputError."""
    if len(vectors) == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    for vec in vectors:
        if len(vec) != dimension:
            raise InputError(
                f"{what} has {len(vec)} dims, collection expects {dimension}; "
                "use the embedder the collection was built with"
            )
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} values must be numbers: {exc}") from exc
    if not np.isfinite(matrix).all():
        raise InputError(
            f"{what} contains NaN or infinite values; fix the embedder output (nothing was written)"
        )
    return matrix


def query_vector(vector: Sequence[float], dimension: int) -> np.ndarray:
    """Validate one query vector (dimension, finiteness) and return it as float32."""
    row: np.ndarray = as_matrix([vector], dimension, what="query vector")[0]
    return row


def check_top_k(top_k: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")


def rank(results: list[ScoredChunk], top_k: int) -> list[ScoredChunk]:
    """Sort by score descending, ties by ``chunk_id``, and keep ``top_k``."""
    results.sort(key=lambda r: (-r.score, r.chunk.chunk_id))
    return results[:top_k]


def score_from_distance(metric: Metric, distance: float) -> float:
    """Milvus-style distance to a higher-is-better score (L2 distances are negated)."""
    return -float(distance) if metric == "L2" else float(distance)


def canonical(fingerprint: dict[str, object]) -> dict[str, object]:
    """The JSON round-trip of ``fingerprint`` (tuples become lists), or an InputError."""
    try:
        loaded: dict[str, object] = json.loads(dumps(fingerprint))
    except (TypeError, ValueError) as exc:
        raise InputError(f"fingerprint must be a JSON-able dict: {exc}") from exc
    return loaded


def dumps(value: object) -> str:
    """Compact, key-sorted JSON (stable, so it can be compared as text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def check_fingerprint(
    where: str,
    stored: dict[str, object] | None,
    stored_dim: int,
    wanted: dict[str, object],
    wanted_dim: int,
) -> None:
    """Raise FingerprintMismatchError if the stored collection was built differently."""
    if stored is None:
        raise FingerprintMismatchError(
            f"{where} exists but has no rag_app fingerprint (not built by rag_app?); {_REBUILD_HINT}"
        )
    built, requested = {**stored, "dimension": stored_dim}, {**wanted, "dimension": wanted_dim}
    if canonical(built) != canonical(requested):
        dims = f" (vector dimension {stored_dim} vs {wanted_dim})" if stored_dim != wanted_dim else ""
        raise FingerprintMismatchError(
            f"{where} was {fingerprint_difference(built, requested)}{dims}; {_REBUILD_HINT}"
        )


def check_metric(where: str, stored: object, wanted: str, *, fix: str = "re-ingest with --rebuild") -> None:
    """Raise ConfigError if the collection was built with another distance metric than ``wanted``."""
    if stored != wanted:
        raise ConfigError(f"{where} was built with metric {stored}; set metric: {stored} or {fix}")


def string_ids(values: Iterable[str], what: str) -> set[str]:
    """The distinct ids in ``values``; InputError if one is not a string."""
    given = list(values)
    for value in given:
        if not isinstance(value, str):
            raise InputError(f"delete by {what} needs string ids, got {type(value).__name__} {value!r}")
    return set(given)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))
