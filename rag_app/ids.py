"""Stable identities: what makes re-ingest idempotent."""

from __future__ import annotations

import hashlib


def doc_id_for(source: str) -> str:
    """Stable id of a source URI/path (16 hex chars of its SHA-256)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def chunk_id_for(doc_id: str, n: int) -> str:
    """Id of the ``n``-th chunk of a document; vectors are upserted by it."""
    return f"{doc_id}:{n:05d}"


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes, recorded in the sync manifest."""
    return hashlib.sha256(data).hexdigest()
