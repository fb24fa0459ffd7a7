"""Calling the Pinecone SDK: bounded retries with backoff, and its errors as ours.

The SDK's REST data plane already retries 408/429/5xx a few times on its own;
this layer adds a bounded, configurable retry (``retries``, ``backoff_s``) for
429, 5xx, timeouts and connection errors on top of it, and turns everything
else into one-line rag_app errors: a request Pinecone rejected as invalid is an
InputError, a bad key a ConfigError, the rest BackendError.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pinecone.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    PineconeConnectionError,
    PineconeError,
    PineconeTimeoutError,
    PineconeTypeError,
    PineconeValueError,
    UnauthorizedError,
)

from rag_app.errors import BackendError, ConfigError, InputError, first_line

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_MAX_SLEEP_S = 20.0

__all__ = ["NotFoundError", "Retrying", "message"]


class Retrying:
    """Runs SDK calls with ``retries`` extra attempts and exponential backoff (with jitter)."""

    def __init__(self, where: str, retries: int, backoff_s: float, api_key_env: str) -> None:
        self.where = where
        self.retries = retries
        self.backoff_s = backoff_s
        self.api_key_env = api_key_env

    def __call__(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except NotFoundError:
                raise  # callers decide what a missing index / namespace means
            except (PineconeError, OSError) as exc:
                if attempt < self.retries and _retryable(exc):
                    delay = min(_MAX_SLEEP_S, self.backoff_s * 2**attempt) * (0.5 + random.random() / 2)
                    attempt += 1
                    logger.warning(
                        "%s: %s failed (%s); retry %d/%d in %.2f s",
                        self.where, what, message(exc), attempt, self.retries, delay,
                    )
                    time.sleep(delay)
                    continue
                raise self.translate(what, exc) from exc

    def translate(self, what: str, exc: BaseException) -> Exception:
        """``exc`` as a one-line rag_app error."""
        text = message(exc)
        if isinstance(exc, UnauthorizedError | ForbiddenError):
            return ConfigError(
                f"{self.where}: Pinecone rejected the API key in ${self.api_key_env} ({text}); fix the key"
            )
        status = getattr(exc, "status_code", None)
        if isinstance(exc, PineconeValueError | PineconeTypeError) or status in (400, 413, 422):
            return InputError(f"{self.where}: {what} rejected by Pinecone: {text}")
        if isinstance(exc, NotFoundError):
            return BackendError(f"{self.where}: {what}: not found ({text})")
        if isinstance(exc, PineconeConnectionError | PineconeTimeoutError | OSError):
            return BackendError(
                f"{self.where}: {what} failed: cannot reach Pinecone ({text}); check host / network"
            )
        return BackendError(f"{self.where}: {what} failed: {text}")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, PineconeConnectionError | PineconeTimeoutError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, ApiError) and exc.status_code in _RETRY_STATUS


def message(exc: BaseException) -> str:
    """The first line of an SDK error's own message, with its HTTP status when it has one."""
    first = first_line(str(getattr(exc, "message", "") or exc)) or type(exc).__name__
    status = getattr(exc, "status_code", None)
    first = first if len(first) <= 300 else first[:297] + "..."
    return f"HTTP {status}: {first}" if isinstance(status, int) else first
