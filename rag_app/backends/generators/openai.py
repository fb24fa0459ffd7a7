"""Chat generation with OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, ...).

Retries are the SDK's own: on connection errors, timeouts, 408, 409, 429 and
5xx it retries ``max_retries`` times with exponential backoff (0.5 s doubling,
capped at 8 s, with jitter) or the server's ``Retry-After`` when given.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.generators.stops import cut_at_stop, filter_stream
from rag_app.errors import BackendError, ConfigError
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
        return f"server at {self._params.base_url}" if self._params.base_url else "OpenAI API"

    def _fail(self, exc: Exception, *, mid_stream: bool = False) -> NoReturn:
        translated = self._translate(exc, mid_stream)
        if translated is None:
            raise exc
        raise translated from exc

    def _translate(self, exc: Exception, mid_stream: bool = False) -> BackendError | None:
        """One-line BackendError naming the fix for an SDK / transport exception (None: not ours)."""
        import openai

        p, where = self._params, self._where()
        tries = f"after {p.max_retries} retr{'y' if p.max_retries == 1 else 'ies'}"
        detail = _detail(exc)
        transport = type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore")
        if mid_stream and (transport or isinstance(exc, openai.APIConnectionError)):
            what = "stalled longer than" if "Timeout" in type(exc).__name__ else "broke off; timeout_s is"
            return BackendError(
                f"stream from {where} {what} timeout_s={p.timeout_s:g}; retry or raise timeout_s"
            )
        if isinstance(exc, openai.AuthenticationError):
            return BackendError(f"{where} rejected the API key from ${p.api_key_env} (401); set a valid key")
        if isinstance(exc, openai.PermissionDeniedError):
            return BackendError(
                f"{where} denied access (403: {detail}); check the key's project/model access"
            )
        if isinstance(exc, openai.NotFoundError):
            return BackendError(
                f"model {p.model!r} not found at {where} (404: {detail}); check generator.params.model"
                + (" and that base_url ends in /v1" if p.base_url else "")
            )
        if isinstance(exc, openai.RateLimitError):
            return BackendError(
                f"{where} rate-limited the request (429) {tries}: {detail}; wait, lower the request rate, "
                "raise max_retries, or check the account's quota"
            )
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(
                f"{where} did not answer within timeout_s={p.timeout_s:g} {tries}; "
                "raise timeout_s or check the server"
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(
                f"cannot reach {where} {tries}; check base_url and that the server is running"
            )
        if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            return BackendError(f"{where} failed with {exc.status_code} {tries}: {detail}; try again later")
        if isinstance(exc, openai.APIStatusError):
            return BackendError(f"{where} rejected the request ({exc.status_code}: {detail})")
        if isinstance(exc, openai.APIError):
            return BackendError(f"{where} request failed: {detail}")
        if transport:
            return BackendError(
                f"connection to {where} failed ({type(exc).__name__}); retry or check the server"
            )
        return None

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import openai

                p = self._params
                key = os.environ.get(p.api_key_env)
                if not key:
                    if p.base_url is None:
                        raise ConfigError(f"${p.api_key_env} is not set: export it or add it to .env")
                    key = "unused"  # local OpenAI-compatible servers often need no key
                self._client = openai.OpenAI(
                    api_key=key, base_url=p.base_url, timeout=p.timeout_s, max_retries=p.max_retries
                )
        return self._client


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": int(usage.prompt_tokens or 0),
        "completion_tokens": int(usage.completion_tokens or 0),
        "total_tokens": int(usage.total_tokens or 0),
    }


def _detail(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = getattr(exc, "message", None) or str(exc)
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return first[:200]
