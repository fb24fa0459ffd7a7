"""rag_app: retrieval-augmented generation over your own documents.

The public API is small: load a config, build a pipeline, ingest and query.
Backends are imported lazily, so importing this package is cheap.
"""

from __future__ import annotations

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
    "PipelineConfig",
    "RagError",
    "ScoredChunk",
    "__version__",
    "load_config",
]
