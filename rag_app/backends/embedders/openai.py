"""Embeddings from OpenAI or any OpenAI-compatible server (``base_url``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.embedders.hashing import WordTokenizer
from rag_app.errors import BackendError, ConfigError


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
        import openai

        kwargs: dict[str, Any] = {"model": self._params.model, "input": batch}
        if self._params.request_dimensions:
            kwargs["dimensions"] = self._params.dimension
        try:
            response = self._get_client().embeddings.create(**kwargs)
        except openai.AuthenticationError as exc:
            raise BackendError(
                f"embedding server rejected the API key from ${self._params.api_key_env}; set a valid key"
            ) from exc
        except openai.APITimeoutError as exc:
            raise BackendError(
                f"embedding server did not answer within timeout_s={self._params.timeout_s:g} after "
                f"{self._params.max_retries} retries; raise timeout_s or check the server"
            ) from exc
        except openai.RateLimitError as exc:
            raise BackendError(
                f"embedding server rate-limited the request (429) after {self._params.max_retries} retries; "
                "lower batch_size, raise max_retries, or check the account's quota"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendError(
                f"cannot reach embedding server at {self._params.base_url or 'api.openai.com'}; check base_url"
            ) from exc
        except openai.APIError as exc:
            raise BackendError(f"embedding request failed: {exc}") from exc
        vectors = [list(map(float, d.embedding)) for d in sorted(response.data, key=lambda d: d.index)]
        if vectors and len(vectors[0]) != self._params.dimension:
            raise ConfigError(
                f"model {self._params.model!r} returned {len(vectors[0])}-d vectors but the config "
                f"says dimension: {self._params.dimension}; fix embedder.params.dimension"
            )
        return vectors

    def _get_client(self) -> Any:
        if self._client is None:
            import openai

            key = os.environ.get(self._params.api_key_env)
            if not key:
                if self._params.base_url is None:
                    raise ConfigError(
                        f"${self._params.api_key_env} is not set: export it or add it to .env"
                    )
                key = "unused"  # local OpenAI-compatible servers often need no key
            self._client = openai.OpenAI(
                api_key=key,
                base_url=self._params.base_url,
                timeout=self._params.timeout_s,
                max_retries=self._params.max_retries,
            )
        return self._client
