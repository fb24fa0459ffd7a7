"""Shared fixtures: repository paths and small pipelines built in tmp dirs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag_app.config import PipelineConfig, parse_config

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "corpus"
PIPELINES = REPO / "pipelines"

pytest_plugins = ["tests.support.serve_api"]  # api_pipeline, api_server, api_client

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests open Milvus Lite files in-process (one process each); tests/integration/test_lite_shared.py
# covers the shared server that `rag` uses by default.
os.environ.setdefault("RAG_MILVUS_LITE_SERVER", "off")
# Rerankers keep chunk embeddings on disk; tests must not read or fill the user's cache.
os.environ["RAG_EMBEDDING_CACHE"] = tempfile.mkdtemp(prefix="rag-test-embeddings-")


def fast_config_dict(state: Path) -> dict[str, Any]:
    """The test pipeline (hashing embedder + memory store) writing under ``state``."""
    return {
        "name": "unit",
        "chunker": {"type": "recursive", "params": {"chunk_size": 60, "chunk_overlap": 10}},
        "embedder": {"type": "hashing", "params": {"dimension": 128}},
        "store": {"type": "memory", "params": {"path": str(state / "store")}},
        "ingest": {"state_dir": str(state), "batch_size": 16},
    }


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., PipelineConfig]:
    """Build a validated config from the fast defaults plus overrides per section."""

    def make(**sections: Any) -> PipelineConfig:
        data = fast_config_dict(tmp_path / "state")
        data.update(sections)
        return parse_config(data, base_dir=tmp_path)

    return make


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A small folder of markdown and text files about distinct topics."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "attention.md").write_text(
        "# Attention\n\nSelf-attention compares every token with every other token, "
        "so its cost grows quadratically with sequence length.\n",
        encoding="utf-8",
    )
    (root / "lora.md").write_text(
        "# LoRA\n\nLoRA freezes the pretrained weights and learns a low-rank update "
        "made of two small matrices for each adapted layer.\n",
        encoding="utf-8",
    )
    sub = root / "notes"
    sub.mkdir()
    (sub / "bm25.txt").write_text(
        "BM25 ranks documents by term frequency, inverse document frequency and length normalisation.\n",
        encoding="utf-8",
    )
    return root
