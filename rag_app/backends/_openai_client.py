"""The ``openai`` SDK client and its failures as one-line rag_app errors.

Shared by the OpenAI generator and embedder (and ``rag doctor``), so a missing
key, a rejected key or an unreachable ``base_url`` reads the same whichever
component hit it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rag_app.errors import BackendError, ConfigError, RagError, first_line

_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore")


@dataclass(frozen=True)
class Endpoint:
    """Where a component sends its requests, and the settings its error messages name."""

    model: str
    model_setting: str
    base_url: str | None
    api_key_env: str
    timeout_s: float
    max_retries: int

    @property
    def where(self) -> str:
        """``server at <base_url>``, or ``OpenAI API`` without one."""
        return f"server at {self.base_url}" if self.base_url else "OpenAI API"

    @property
    def tries(self) -> str:
        """``after N retries`` (``retry`` when N is 1)."""
        return f"after {self.max_retries} retr{'y' if self.max_retries == 1 else 'ies'}"


def api_key(api_key_env: str, base_url: str | None) -> str:
    """The key in ``$api_key_env``; a placeholder for a ``base_url`` server that needs none.

    Raises:
        ConfigError: the variable is unset and the requests go to OpenAI itself.
    """
    key = os.environ.get(api_key_env)
    if key:
        return key
    if base_url is None:
        raise ConfigError(f"${api_key_env} is not set: export it or add it to .env")
    return "unused"  # local OpenAI-compatible servers often need no key


def make_client(endpoint: Endpoint) -> Any:
    """An ``openai.OpenAI`` client for ``endpoint`` (its timeout and SDK retries included)."""
    import openai

    return openai.OpenAI(
        api_key=api_key(endpoint.api_key_env, endpoint.base_url),
        base_url=endpoint.base_url,
        timeout=endpoint.timeout_s,
        max_retries=endpoint.max_retries,
    )


def translate(exc: Exception, endpoint: Endpoint, *, mid_stream: bool = False) -> RagError | None:
    """A one-line error naming the fix for an SDK or transport exception (None: not one of those)."""
    import openai

    where, tries, transport = endpoint.where, endpoint.tries, _is_transport(exc)
    if mid_stream and (transport or isinstance(exc, openai.APIConnectionError)):
        what = "stalled longer than" if "Timeout" in type(exc).__name__ else "broke off; timeout_s is"
        return BackendError(f"stream from {where} {what} timeout_s={endpoint.timeout_s:g}; retry or raise timeout_s")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return _key_error(exc, endpoint)
    if isinstance(exc, openai.NotFoundError):
        return BackendError(
            f"model {endpoint.model!r} not found at {where} (404: {detail(exc)}); check {endpoint.model_setting}"
            + (" and that base_url ends in /v1" if endpoint.base_url else "")
        )
    if isinstance(exc, openai.RateLimitError):
        return BackendError(
            f"{where} rate-limited the request (429) {tries}: {detail(exc)}; wait, lower the request rate, "
            "raise max_retries, or check the account's quota"
        )
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(
            f"{where} did not answer within timeout_s={endpoint.timeout_s:g} {tries}; "
            "raise timeout_s or check the server"
        )
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"cannot reach {where} {tries}; check base_url and that the server is running")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, endpoint)
    if isinstance(exc, openai.APIError):
        return BackendError(f"{where} request failed: {detail(exc)}")
    if transport:
        return BackendError(f"connection to {where} failed ({type(exc).__name__}); retry or check the server")
    return None


def _key_error(exc: Exception, endpoint: Endpoint) -> ConfigError:
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return ConfigError(f"{endpoint.where} rejected the API key from ${endpoint.api_key_env} (401); set a valid key")
    return ConfigError(f"{endpoint.where} denied access (403: {detail(exc)}); check the key's project/model access")


def _status_error(exc: Any, endpoint: Endpoint) -> BackendError:
    status = exc.status_code
    if status >= 500:
        return BackendError(f"{endpoint.where} failed with {status} {endpoint.tries}: {detail(exc)}; try again later")
    return BackendError(f"{endpoint.where} rejected the request ({status}: {detail(exc)})")


def _is_transport(exc: Exception) -> bool:
    return type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES


def detail(exc: Exception) -> str:
    """The server's own message in an SDK error (its first line, at most 200 characters)."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = getattr(exc, "message", None) or str(exc)
    return (first_line(message) or type(exc).__name__)[:200]
