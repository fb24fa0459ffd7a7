"""Fingerprint mismatches read as sentences, not Python dicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.backends.stores._common import check_fingerprint
from rag_app.config import PipelineConfig
from rag_app.errors import FingerprintMismatchError
from rag_app.pipeline import build_pipeline

MakeConfig = Callable[..., PipelineConfig]


def _no_repr(message: str) -> None:
    assert not any(c in message for c in "{}'\"") or "collection '" in message, message
    assert "True" not in message and "None" not in message and "\n" not in message


def test_pipeline_mismatch_names_both_embedders(make_config: MakeConfig, docs_dir: Path) -> None:
    build_pipeline(make_config()).ingest([docs_dir])
    other = build_pipeline(make_config(embedder={"type": "hashing", "params": {"dimension": 64}}))
    with pytest.raises(FingerprintMismatchError) as err:
        other.search("attention")
    message = str(err.value)
    assert "built with embedder hashing-128 (128 dims, normalized)" in message, message
    assert "this config uses embedder hashing-64 (64 dims, normalized)" in message, message
    assert "use the same embedder, or re-ingest with --rebuild" in message, message
    _no_repr(message)


def test_pipeline_chunker_mismatch_on_ingest(make_config: MakeConfig, docs_dir: Path) -> None:
    build_pipeline(make_config()).ingest([docs_dir])
    chunker = {"type": "recursive", "params": {"chunk_size": 80, "chunk_overlap": 10}}
    other = build_pipeline(make_config(chunker=chunker))
    with pytest.raises(FingerprintMismatchError) as err:
        other.ingest([docs_dir])
    message = str(err.value)
    assert "built with chunker recursive (" in message and "chunk_size 60" in message, message
    assert "this config uses chunker recursive (" in message and "chunk_size 80" in message, message
    assert "embedder" not in message.split(";")[0]  # only what differs is named
    assert message.endswith("use the same chunker, or re-ingest with --rebuild"), message
    _no_repr(message)


def test_store_mismatch_is_a_sentence() -> None:
    stored = {"embedder": "test-4", "normalized": True, "chunker": {"type": "recursive", "chunk_size": 60}}
    with pytest.raises(FingerprintMismatchError) as err:
        check_fingerprint("Milvus collection 'docs' at /x/lite.db", stored, 4,
                          {**stored, "embedder": "other-model", "normalized": False}, 8)  # fmt: skip
    message = str(err.value)
    assert message.startswith("Milvus collection 'docs' at /x/lite.db was built with embedder test-4 (4 dims, "
                              "normalized), this config uses embedder other-model (8 dims, not normalized)"), message
    assert "dimension 4 vs 8" in message and "chunker recursive" not in message
    _no_repr(message.replace("'docs'", ""))
