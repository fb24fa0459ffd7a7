"""Chat generation with OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, ...).

Retries are the SDK's own: on connection errors, timeouts, 408, 409, 429 and
5xx it retries ``max_retries`` times with exponential backoff (0.5 s doubling,
capped at 8 s, with jitter) or the server's ``Retry-After`` when given.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends import _openai_client
from rag_app.backends.generators.stops import cut_at_stop, filter_stream
from rag_app.errors import BackendError
from rag_app.types import GenerationResult, Message, TextStream

logger = logging.getLogger(__name__)

_TOP_LOGPROBS = 20  # the most the OpenAI API returns


class OpenAIGenerator:
    """Calls ``chat.completions.create`` with the official ``openai`` SDK (whole or ``stream=True``)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = "gpt-4o-mini"
        base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8000/v1; None: OpenAI")
        api_key_env: str = "OPENAI_API_KEY"
        timeout_s: float = Field(default=60.0, gt=0, description="per request (and per read when streaming)")
        max_retries: int = Field(default=2, ge=0)
        temperature: float | None = Field(default=0.0, ge=0.0, le=2.0, description="None: server default")
        top_p: float | None = Field(default=None, gt=0.0, le=1.0)
        max_tokens: int | None = Field(default=512, gt=0)
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] | None = Field(
            default=None,
            description="request field for max_tokens; None: max_completion_tokens for OpenAI, "
            "max_tokens for a base_url",
        )
        stop: list[str] = Field(default_factory=list, max_length=4)
        stream_usage: bool = Field(default=True, description="ask for token usage at the end of a stream")

    def __init__(self, params: Params, **_: object) -> None:
        self._params = params
        self._client: Any = None
        self._lock = threading.Lock()
        self._endpoint = _openai_client.Endpoint(
            model=params.model, model_setting="generator.params.model", base_url=params.base_url,
            api_key_env=params.api_key_env, timeout_s=params.timeout_s, max_retries=params.max_retries,
        )

    @property
    def name(self) -> str:
        return f"openai:{self._params.model}"

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is not available offline. BPE tokenizers average
        # ~4 characters per English token; words * 4/3 errs on the high side.
        return max(len(text) // 4, (len(text.split()) * 4 + 2) // 3)

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        stops = [*self._params.stop, *stop]
        client = self._get_client()
        try:
            response = client.chat.completions.create(**self._request(messages, max_tokens, stops))
        except Exception as exc:
            self._fail(exc)
        if not response.choices:
            raise BackendError(f"{self._where()} returned no choices for model {self._params.model!r}")
        choice = response.choices[0]
        text, _ = cut_at_stop(choice.message.content or "", stops)
        usage = _usage(response.usage)
        return GenerationResult(
            text=text,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.finish_reason or "stop",
        )

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> TextStream:
        """Yield content deltas; returns the token counts when the server sent them (else None)."""
        stops = [*self._params.stop, *stop]
        request = self._request(messages, max_tokens, stops)
        request["stream"] = True
        if self._params.stream_usage:
            request["stream_options"] = {"include_usage": True}
        last: dict[str, Any] = {}  # usage and finish reason, from the chunks that carry them
        client = self._get_client()
        try:
            response = client.chat.completions.create(**request)
        except Exception as exc:
            self._fail(exc)
        try:
            text, stopped = yield from filter_stream(self._deltas(response, last), stops)
        finally:
            response.close()  # also when the consumer stops early: frees the connection
        usage: dict[str, int] = last.get("usage", {})
        if not usage:
            return None  # the server sent no counts: the caller estimates them
        finish = "stop" if stopped else str(last.get("finish_reason") or "stop")
        return GenerationResult(text, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), finish)

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        """Log-probability of each of ``choices`` opening the reply, from the API's ``top_logprobs``.

        One 1-token request per conversation (OpenAI and llama.cpp's server return the top
        20 candidates). A choice among them gets its log-probability (tokens compared without
        surrounding spaces); one that is not gets -inf.

        Raises:
            BackendError: the server returned no log-probabilities (many OpenAI-compatible
                servers do not); turn off what needs them (answer.judge, method logprob).
        """
        client = self._get_client()
        rows: list[list[float]] = []
        for messages in conversations:
            request = {**self._request(messages, 1, []), "logprobs": True, "top_logprobs": _TOP_LOGPROBS}
            try:
                response = client.chat.completions.create(**request)
            except Exception as exc:
                self._fail(exc)
            logprobs = response.choices[0].logprobs if response.choices else None
            content = logprobs.content if logprobs is not None else None
            if not content:
                raise BackendError(
                    f"{self._where()} returned no log-probabilities for model {self._params.model!r}; "
                    "turn off answer.judge (or use reranker method: score) with this server"
                )
            top: dict[str, float] = {}
            for candidate in content[0].top_logprobs or []:
                token = candidate.token.strip()
                top[token] = max(top.get(token, -math.inf), float(candidate.logprob))
            rows.append([top.get(choice.strip(), -math.inf) for choice in choices])
        return rows

    def _deltas(self, response: Any, last: dict[str, Any]) -> Iterator[str]:
        try:
            for chunk in response:
                if chunk.usage is not None:
                    last["usage"] = _usage(chunk.usage)
                for choice in chunk.choices or ():
                    if choice.finish_reason:
                        last["finish_reason"] = choice.finish_reason
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        except Exception as exc:
            self._fail(exc, mid_stream=True)

    def _request(
        self, messages: Sequence[Message], max_tokens: int | None, stops: list[str]
    ) -> dict[str, Any]:
        p = self._params
        request: dict[str, Any] = {
            "model": p.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if p.temperature is not None:
            request["temperature"] = p.temperature
        if p.top_p is not None:
            request["top_p"] = p.top_p
        limit = max_tokens or p.max_tokens
        if limit is not None:
            field = p.max_tokens_param or ("max_tokens" if p.base_url else "max_completion_tokens")
            request[field] = limit
        if stops:
            request["stop"] = stops[:4]  # the API accepts at most 4; the rest are cut client-side
        return request

    def _where(self) -> str:
        return self._endpoint.where

    def _fail(self, exc: Exception, *, mid_stream: bool = False) -> NoReturn:
        translated = _openai_client.translate(exc, self._endpoint, mid_stream=mid_stream)
        if translated is None:
            raise exc
        raise translated from exc

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _openai_client.make_client(self._endpoint)
        return self._client


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": int(usage.prompt_tokens or 0),
        "completion_tokens": int(usage.completion_tokens or 0),
        "total_tokens": int(usage.total_tokens or 0),
    }
