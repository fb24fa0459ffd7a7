"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests (FastAPI + uvicorn in a thread).

It speaks the wire format of ``/v1/chat/completions`` (JSON and SSE
streaming) and ``/v1/embeddings`` (float and base64), and can be told to
misbehave: answer 429 a few times then succeed, 500 always, sleep past the
client's timeout, stall mid-stream, or reject the API key (401).

Usage::

    with OpenAIStub() as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key=stub.api_key)
        stub.fail_next = [429]  # the next request gets a 429, later ones succeed
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import struct
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.support.asgi_server import ThreadedServer


@dataclass
class StubBehaviour:
    """What the stub does next; tests set these fields (``reset()`` restores them)."""

    reply: str = "Paris is the capital of France [1]."
    fail_next: list[int] = field(default_factory=list)  # status codes for the next requests, in order
    always_status: int | None = None  # every request fails with this status
    delay_s: float = 0.0  # sleep before answering (to trigger client timeouts)
    stall_after_words: int | None = None  # stream this many words, then stall for delay_s
    retry_after_ms: int | None = 10  # sent with 429/5xx so SDK retries are quick; None: SDK backoff
    models: tuple[str, ...] = ("stub-chat", "stub-embed")
    embedding_dim: int = 8
    p_yes: float | None = None  # set: a request for logprobs gets Yes/No top_logprobs with P(Yes) = this


class OpenAIStub:
    """Runs the stub server in a background thread; ``base_url`` ends in ``/v1``."""

    api_key = "sk-stub-test-key"

    def __init__(self) -> None:
        self.behaviour = StubBehaviour()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadedServer(_app(self), name="openai-stub")
        self.port = self._server.port
        self.base_url = f"{self._server.url}/v1"

    def start(self) -> OpenAIStub:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        with self._lock:
            self.behaviour = StubBehaviour()
            self.requests.clear()

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _next_failure(self) -> int | None:
        with self._lock:
            b = self.behaviour
            if b.always_status is not None:
                return b.always_status
            return b.fail_next.pop(0) if b.fail_next else None


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_error"}
    body = {
        "error": {"message": message, "type": kind.get(status, "server_error"), "param": None, "code": code}
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _yes_no(p_yes: float, body: dict[str, Any]) -> dict[str, Any]:
    """A one-token chat completion whose ``top_logprobs`` give Yes with ``p_yes`` and No with the rest."""
    yes, no = math.log(p_yes), math.log(1 - p_yes)
    first = "Yes" if yes >= no else "No"
    top = [{"token": "Yes", "logprob": yes, "bytes": None}, {"token": "No", "logprob": no, "bytes": None}]
    content = [{"token": first, "logprob": max(yes, no), "bytes": None, "top_logprobs": top}]
    choice = {"index": 0, "message": {"role": "assistant", "content": first}, "finish_reason": "length",
              "logprobs": {"content": content}}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return {"id": "chatcmpl-stub", "created": int(time.time()), "model": body["model"],
            "object": "chat.completion", "choices": [choice], "usage": usage}


def _vector(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest() * (dim // 32 + 1)
    raw = [b / 255.0 - 0.5 for b in digest[:dim]]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


def _app(stub: OpenAIStub) -> FastAPI:
    app = FastAPI()

    async def gate(request: Request, body: dict[str, Any]) -> Response | None:
        """Record the request and apply the scripted failures (None: answer normally)."""
        b = stub.behaviour
        stub.requests.append({"path": request.url.path, "body": body, "headers": dict(request.headers)})
        if request.headers.get("authorization") != f"Bearer {stub.api_key}":
            return _error(401, "Incorrect API key provided: sk-...", "invalid_api_key")
        status = stub._next_failure()
        retry = {"retry-after-ms": str(b.retry_after_ms)} if b.retry_after_ms is not None else {}
        if status == 429:
            return _error(429, "Rate limit reached for requests", "rate_limit_exceeded", retry)
        if status is not None:
            return _error(
                status, "The server had an error while processing your request.", "server_error", retry
            )
        if b.delay_s and b.stall_after_words is None:
            await asyncio.sleep(b.delay_s)
        if body.get("model") not in b.models:
            msg = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            return _error(404, msg, "model_not_found")
        return None

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        refused = await gate(request, body)
        if refused is not None:
            return refused
        if body.get("logprobs") and stub.behaviour.p_yes is not None:
            return JSONResponse(_yes_no(stub.behaviour.p_yes, body))
        words, finish = _reply_words(stub.behaviour.reply, body)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words)}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            return JSONResponse({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _sse(stub.behaviour, base, words, finish, usage if include_usage else None),
            media_type="text/event-stream",
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        refused = await gate(request, body)
        if refused is not None:
            return refused
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = int(body.get("dimensions") or stub.behaviour.embedding_dim)
        data = []
        for i, text in enumerate(texts):
            vec = _vector(str(text), dim)
            emb: Any = vec
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(len(str(t).split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})

    return app


def _reply_words(reply: str, body: dict[str, Any]) -> tuple[list[str], str]:
    """The reply as word pieces ("w " each), cut at ``stop`` and at ``max_*tokens`` (one word = one token)."""
    text, finish = reply, "stop"
    stops = body.get("stop") or []
    for s in [stops] if isinstance(stops, str) else stops:
        if s and s in text:
            text = text[: text.index(s)]
    pieces = [w + " " for w in text.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and len(pieces) > int(limit):
        pieces, finish = pieces[: int(limit)], "length"
    return [p for p in pieces if p], finish


async def _sse(
    b: StubBehaviour, base: dict[str, Any], words: list[str], finish: str, usage: dict[str, int] | None
) -> AsyncIterator[str]:
    def event(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        chunk = {**base, "object": "chat.completion.chunk", "choices": [choice], "usage": None}
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for i, word in enumerate(words):
        if b.stall_after_words is not None and i == b.stall_after_words:
            await asyncio.sleep(b.delay_s)
        yield event({"content": word})
    yield event({}, finish)
    if usage is not None:
        tail = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield f"data: {json.dumps(tail)}\n\n"
    yield "data: [DONE]\n\n"
