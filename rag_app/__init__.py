"""rag_app: retrieval-augmented generation over your own documents.

The public API is small: load a config, build a pipeline, ingest and query::

    from rag_app import build_pipeline, load_config

    pipeline = build_pipeline(load_config("pipelines/local.yaml"))
    pipeline.ingest(["data/corpus"])
    print(pipeline.answer("How does attention scale with sequence length?").text)

Backends (and the pipeline module itself) are imported lazily, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag_app import quiet as _quiet
from rag_app.config import PipelineConfig, load_config
from rag_app.errors import (
    BackendError,
    ConfigError,
    FingerprintMismatchError,
    InputError,
    MissingDependencyError,
    RagError,
)
from rag_app.types import Chunk, Document, Filter, IngestReport, ScoredChunk

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline, build_pipeline

_quiet.library_defaults()  # no Hugging Face progress bars or transformers warnings unless asked for

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Chunk",
    "ConfigError",
    "Document",
    "Filter",
    "FingerprintMismatchError",
    "IngestReport",
    "InputError",
    "MissingDependencyError",
    "Pipeline",
    "PipelineConfig",
    "RagError",
    "ScoredChunk",
    "__version__",
    "build_pipeline",
    "load_config",
]


def __getattr__(name: str) -> Any:
    """``Pipeline`` and ``build_pipeline``, imported on first use."""
    if name in ("Pipeline", "build_pipeline"):
        from rag_app import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'rag_app' has no attribute {name!r}")
