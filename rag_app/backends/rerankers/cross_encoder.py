"""Reranking with a sentence-transformers ``CrossEncoder`` (any local folder or hub id).

Implements the ``Reranker`` protocol::

    class Reranker(Protocol):
        name: str
        def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...

``rerank`` returns the ``top_k`` of ``hits`` sorted by the cross-encoder score
(ties by ``chunk_id``); each hit's ``score`` is the rerank score and its
``scores`` keeps the earlier per-stage scores plus ``scores["rerank"]``.
No cross-encoder ships as a PyPI package: offline, point ``model`` at a local
folder (e.g. a copy of ``cross-encoder/ms-marco-MiniLM-L6-v2``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag_app.errors import BackendError
from rag_app.retrieval.rerank import rerank_head
from rag_app.types import ScoredChunk
from rag_app.weights import load_sentence_transformers

logger = logging.getLogger(__name__)

_OFFLINE = " (no cross-encoder ships on PyPI: offline, copy one to a folder, or use reranker type 'bi_encoder')"


class CrossEncoderReranker:
    """Scores each (query, chunk text) pair jointly; one score per pair."""

    name = "cross_encoder"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = Field(default="cross-encoder/ms-marco-MiniLM-L6-v2", description="local folder or hub id")
        max_length: int | None = Field(default=512, gt=0, description="tokens per (query, passage) pair")
        batch_size: int = Field(default=16, gt=0)
        activation: Literal["sigmoid", "none"] = Field(
            default="sigmoid", description="sigmoid gives scores in (0, 1); none gives raw logits"
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
        self._base_dir = base_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        p = self._params
        return rerank_head(hits, top_k, lambda head: self._score(query, head), depth=p.depth, blend=p.blend)

    def _score(self, query: str, hits: list[ScoredChunk]) -> list[float]:
        import torch

        model = self._load()
        activation = torch.nn.Sigmoid() if self._params.activation == "sigmoid" else torch.nn.Identity()
        pairs = [(query, hit.chunk.text) for hit in hits]
        try:
            raw = model.predict(
                pairs,
                batch_size=self._params.batch_size,
                activation_fn=activation,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"cross-encoder {self._params.model!r} failed to score: {exc}") from exc
        if raw.ndim != 1:
            raise BackendError(
                f"cross-encoder {self._params.model!r} returns {raw.shape[-1]} labels per pair; "
                "a reranker needs a model with a single relevance score (num_labels=1)"
            )
        scores: list[float] = raw.tolist()
        return scores

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                p = self._params
                self._model = load_sentence_transformers(
                    "CrossEncoder", p.model, what="cross-encoder", base_dir=self._base_dir,
                    threads=p.threads, hint=_OFFLINE, device=p.device, max_length=p.max_length,
                )
        return self._model
