"""Embeddings from OpenAI or any OpenAI-compatible server (``base_url``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends import _openai_client
from rag_app.backends.embedders.hashing import WordTokenizer
from rag_app.errors import ConfigError


class OpenAIEmbedder:
    """Calls ``embeddings.create`` with the official ``openai`` SDK, in batches."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = "text-embedding-3-small"
        dimension: int = Field(gt=0, description="must match the model's output size")
        base_url: str | None = None
        api_key_env: str = "OPENAI_API_KEY"
        batch_size: int = Field(default=128, gt=0, le=2048)
        timeout_s: float = Field(default=30.0, gt=0)
        max_retries: int = Field(default=3, ge=0)
        request_dimensions: bool = Field(
            default=False, description="send `dimensions=` (text-embedding-3 models can shorten vectors)"
        )

    def __init__(self, params: Params, **_: object) -> None:
        self._params = params
        self._client: Any = None
        self._endpoint = _openai_client.Endpoint(
            model=params.model, model_setting="embedder.params.model", base_url=params.base_url,
            api_key_env=params.api_key_env, timeout_s=params.timeout_s, max_retries=params.max_retries,
        )

    @property
    def name(self) -> str:
        return f"openai:{self._params.model}"

    @property
    def dimension(self) -> int:
        return self._params.dimension

    @property
    def normalized(self) -> bool:
        return True

    def tokenizer(self) -> WordTokenizer:
        # The remote tokenizer is not available offline; words are a close,
        # conservative stand-in for sizing chunks (BPE tokens >= words).
        return WordTokenizer()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        step = self._params.batch_size
        for i in range(0, len(texts), step):
            out.extend(self._embed(list(texts[i : i + step])))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _embed(self, batch: list[str]) -> list[list[float]]:
        kwargs: dict[str, Any] = {"model": self._params.model, "input": batch}
        if self._params.request_dimensions:
            kwargs["dimensions"] = self._params.dimension
        client = self._get_client()
        try:
            response = client.embeddings.create(**kwargs)
        except Exception as exc:
            translated = _openai_client.translate(exc, self._endpoint)
            if translated is None:
                raise
            raise translated from exc
        vectors = [list(map(float, d.embedding)) for d in sorted(response.data, key=lambda d: d.index)]
        if vectors and len(vectors[0]) != self._params.dimension:
            raise ConfigError(
                f"model {self._params.model!r} returned {len(vectors[0])}-d vectors but the config "
                f"says dimension: {self._params.dimension}; fix embedder.params.dimension"
            )
        return vectors

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = _openai_client.make_client(self._endpoint)
        return self._client
