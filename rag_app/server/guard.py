"""The ASGI layer in front of every route: the bearer token first, then the size of the body.

It runs before FastAPI reads or validates anything, so an unauthenticated
request gets 401 (not 422/400 for a malformed body), ``/docs`` and
``/openapi.json`` are behind the token like the API itself, and a body over
the limit is refused with 413 without being held in memory whole (a
``Content-Length`` over the limit is refused before one byte is read; a
chunked body is counted as it arrives).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag_app.server.schemas import error_body


def bearer_token(header: str) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header (the scheme in any case)."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


class RequestGuard:
    """Refuses requests without the token (401) and bodies over ``max_body_bytes`` (413), in OpenAI's envelope."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self._authorized(headers.get("authorization", "")):
            await _drain(receive, self.max_body_bytes)
            await _reply(send, 401, error_body("invalid or missing bearer token", "invalid_request_error",
                                               "invalid_api_key"), {"www-authenticate": "Bearer"})  # fmt: skip
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await _drain(receive)  # before answering: after the answer the server reads no more of it
            await _reply(send, 413, self._too_large(int(length)))
            return
        body = await self._read_body(receive)
        if body is None:
            await _reply(send, 413, self._too_large(None))
            return
        await self.app(scope, _replay(body, receive), send)

    def _authorized(self, header: str) -> bool:
        if self.token is None:
            return True
        supplied = bearer_token(header)
        return supplied is not None and secrets.compare_digest(supplied.encode(), self.token.encode())

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (the rest is read and dropped)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)  # a disconnect: the app sees an empty body and the client is gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive)
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    def _too_large(self, size: int | None) -> dict[str, Any]:
        limit = _mb(self.max_body_bytes)
        got = f" is {_mb(size)}" if size is not None else " is larger than that"
        return error_body(
            f"the request body{got}; this server accepts at most {limit} (server.max_request_mb in its config)",
            "invalid_request_error",
            "request_too_large",
        )


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 // 10 else f"{size:,} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body over once, then passes on what the server sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


_DRAIN_LIMIT = 64 * 2**20


async def _drain(receive: Receive, limit: int = _DRAIN_LIMIT) -> None:
    """Read and drop the rest of a body (up to ``limit`` bytes), so the client reads the answer, not a broken pipe.

    Past that the connection is simply closed once the answer is sent.
    """
    dropped = 0
    while dropped <= limit:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))


async def _reply(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
                            *extra]})  # fmt: skip
    await send({"type": "http.response.body", "body": raw})
