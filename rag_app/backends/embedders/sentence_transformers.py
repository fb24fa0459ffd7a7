"""Local embeddings with sentence-transformers (any local folder or hub id)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.embedders.hf_tokenizer import HFTokenCounter
from rag_app.errors import BackendError
from rag_app.models import load_error_message, load_sentence_transformers, resolve_model

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Wraps ``SentenceTransformer`` with the query/document split of ST 5+."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = "sentence-transformers/all-MiniLM-L6-v2"
        batch_size: int = Field(default=32, gt=0)
        normalize: bool = True
        device: str = "cpu"
        threads: int | None = Field(
            default=None, gt=0, description="torch intra-op threads (process-wide); None keeps torch's default"
        )
        query_prompt: str | None = Field(default=None, description="e.g. 'query: ' for e5 models")
        document_prompt: str | None = None
        max_seq_length: int | None = Field(default=None, gt=0)

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._base_dir = base_dir
        self._model: Any = None
        self._tokenizer: HFTokenCounter | None = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._params.model

    @property
    def normalized(self) -> bool:
        return self._params.normalize

    @property
    def dimension(self) -> int:
        if self._dim is None:
            self._dim = int(self._load().get_embedding_dimension())
        return self._dim

    def tokenizer(self) -> HFTokenCounter:
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = HFTokenCounter(self._model.tokenizer)
            else:  # loading just the tokenizer is much cheaper than the model
                from transformers import AutoTokenizer

                path = resolve_model(self._params.model, self._base_dir)
                try:
                    self._tokenizer = HFTokenCounter(AutoTokenizer.from_pretrained(path))
                except (OSError, ValueError) as exc:
                    raise BackendError(load_error_message("embedding", self._params.model, exc)) from exc
        return self._tokenizer

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts), self._load().encode_document, self._params.document_prompt)

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], self._load().encode_query, self._params.query_prompt)[0]

    def _encode(self, texts: list[str], fn: Any, prompt: str | None) -> list[list[float]]:
        kwargs: dict[str, Any] = {
            "batch_size": self._params.batch_size,
            "normalize_embeddings": self._params.normalize,
            "convert_to_numpy": True,
            "show_progress_bar": False,
        }
        if prompt is not None:
            kwargs["prompt"] = prompt
        vectors = fn(texts, **kwargs)
        return [[float(x) for x in row] for row in vectors.tolist()]

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                p = self._params
                model = load_sentence_transformers(
                    "SentenceTransformer", p.model, what="embedding", base_dir=self._base_dir,
                    threads=p.threads, device=p.device,
                )
                if p.max_seq_length:
                    model.max_seq_length = p.max_seq_length
                self._model = model
        return self._model
