"""FastAPI app: ``/v1/chat/completions`` (streaming and not), ``/v1/models``, ``/v1/embeddings``.

Any OpenAI client can talk to a rag_app pipeline. The answer is the message
content; the sources and checked citations travel in an extra top-level
``rag`` field (on the last chunk when streaming), which OpenAI SDKs keep as
an extra attribute (``completion.model_extra["rag"]``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from rag_app.answering import AnswerStream
from rag_app.config import ServerConfig
from rag_app.errors import BackendError, InputError, RagError, one_line
from rag_app.pipeline import Pipeline
from rag_app.server import errors
from rag_app.server.generation import GenerationResponse, GenerationSlots, QueueFull, run_to_end, stream_pieces
from rag_app.server.guard import RequestGuard
from rag_app.server.public import public_answer
from rag_app.server.schemas import ChatRequest, EmbeddingRequest, error_body
from rag_app.types import Answer, Message

logger = logging.getLogger(__name__)


class APIError(Exception):
    def __init__(
        self, status: int, message: str, kind: str, code: str | None = None, *, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param


def create_app(
    pipeline: Pipeline, *, token: str | None = None, limits: ServerConfig | None = None, close_pipeline: bool = False
) -> FastAPI:
    """The API for one pipeline; requests need ``Authorization: Bearer <token>`` when a token is given.

    ``limits`` default to the pipeline config's ``server`` section. The token also
    guards ``/docs`` and ``/openapi.json``, and is checked before a body is read.
    With ``close_pipeline`` the server's shutdown closes the pipeline (releasing the
    store), which also happens when uvicorn ends the process with the signal it got.
    """
    limits = limits or pipeline.config.server

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_pipeline:
                await anyio.to_thread.run_sync(pipeline.close)

    app = FastAPI(title="rag_app", version="1", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.add_middleware(RequestGuard, token=token, max_body_bytes=int(limits.max_request_mb * 2**20))
    errors.install(app)
    model_id = pipeline.config.name
    slots = GenerationSlots(limits.max_concurrent_generations, limits.max_queued_generations, limits.retry_after_s)
    app.state.generation_slots = slots  # for inspection: running + waiting requests

    @app.exception_handler(APIError)
    def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.kind, exc.code, param=exc.param), status_code=exc.status)

    @app.exception_handler(QueueFull)
    def _busy(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "api_error", "server_busy"), status_code=503,
                            headers={"Retry-After": str(exc.retry_after_s)})  # fmt: skip

    @app.exception_handler(RagError)
    def _rag_error(_: Request, exc: RagError) -> JSONResponse:
        status = 502 if isinstance(exc, BackendError) else 400
        kind = "api_error" if status == 502 else "invalid_request_error"
        return JSONResponse(error_body(one_line(exc), kind), status_code=status)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(model_id)]}

    @app.get("/v1/models/{name}")
    def model(name: str) -> dict[str, Any]:
        _check_model(name, model_id)
        return _model_card(model_id)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(req: ChatRequest, request: Request) -> Response:
        _check_model(req.model, model_id)
        _check_messages(req, limits)
        question, history = _split(req)
        turn = slots.admit()
        try:
            await turn.wait()
            stream = await anyio.to_thread.run_sync(
                lambda: pipeline.stream(
                    question, history=history, top_k=req.top_k, max_tokens=req.max_completion_tokens or req.max_tokens
                )
            )
        except BaseException:
            turn.release()
            raise
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if req.stream:
            events = _sse(stream, cid, created, model_id)
            return GenerationResponse(events, stream=stream, turn=turn, media_type="text/event-stream")
        if not await run_to_end(stream, turn, request.is_disconnected):
            return Response(status_code=499)  # nobody is listening; the generation was stopped
        return JSONResponse(_completion(cid, created, model_id, stream.result()))

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingRequest) -> dict[str, Any]:
        embedder = pipeline.embedder
        if req.model not in (model_id, embedder.name):
            raise APIError(404, f"model {req.model!r} not found; embeddings are served as {model_id!r} "
                           f"(or {embedder.name!r})", "invalid_request_error", "model_not_found")  # fmt: skip
        texts = _texts(req.input, limits)
        if req.dimensions is not None and req.dimensions != embedder.dimension:
            raise InputError(f"dimensions={req.dimensions} is not supported: {embedder.name} returns "
                             f"{embedder.dimension}-dimensional embeddings")  # fmt: skip
        vectors = embedder.embed_documents(texts)
        tokenizer = embedder.tokenizer()
        used = sum(tokenizer.count(t) for t in texts)
        encode = _base64 if req.encoding_format == "base64" else list
        return {
            "object": "list",
            "model": embedder.name,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }

    return app


def _check_messages(req: ChatRequest, limits: ServerConfig) -> None:
    """Refuse more messages, or longer ones, than the server's limits allow (before any work is done)."""
    if len(req.messages) > limits.max_messages:
        raise APIError(400, f"{len(req.messages)} messages sent; this server accepts at most "
                       f"{limits.max_messages} (server.max_messages)", "invalid_request_error",
                       "too_many_messages", param="messages")  # fmt: skip
    for i, message in enumerate(req.messages):
        size = len(message.text())
        if size > limits.max_message_chars:
            raise APIError(400, f"messages[{i}] is {size:,} characters; this server accepts at most "
                           f"{limits.max_message_chars:,} per message (server.max_message_chars): "
                           "ask a shorter question", "invalid_request_error", "message_too_long",
                           param=f"messages[{i}].content")  # fmt: skip


def _texts(value: str | list[str] | list[int] | list[list[int]], limits: ServerConfig) -> list[str]:
    """The input strings; token ids, empty strings and inputs over the limits are refused in one line."""
    items: list[Any] = [value] if isinstance(value, str) else list(value)
    if any(not isinstance(t, str) for t in items):
        raise InputError("input as token ids is not supported; send a string or a list of strings")
    if not items or any(not t for t in items):
        raise InputError("input must be a non-empty string or list of non-empty strings")
    if len(items) > limits.max_embedding_inputs:
        raise APIError(400, f"{len(items):,} inputs sent; this server embeds at most {limits.max_embedding_inputs:,} "
                       "per request (server.max_embedding_inputs): split them into batches",
                       "invalid_request_error", "too_many_inputs", param="input")  # fmt: skip
    longest = max(range(len(items)), key=lambda i: len(items[i]))
    if len(items[longest]) > limits.max_embedding_input_chars:
        where = "input" if isinstance(value, str) else f"input[{longest}]"
        raise APIError(400, f"{where} is {len(items[longest]):,} characters; this server embeds at most "
                       f"{limits.max_embedding_input_chars:,} per input (server.max_embedding_input_chars)",
                       "invalid_request_error", "input_too_long", param=where)  # fmt: skip
    return [str(t) for t in items]


def _base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64-encoded: OpenAI's ``encoding_format: base64``."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _model_card(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "rag_app"}


def _check_model(name: str, model_id: str) -> None:
    if name != model_id:
        raise APIError(404, f"model {name!r} not found; this server serves {model_id!r}", "invalid_request_error",
                       "model_not_found")


def _split(req: ChatRequest) -> tuple[str, list[Message]]:
    """The last user message is the question; earlier user/assistant turns are history."""
    turns = [m for m in req.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InputError("the last message must be a non-empty user message")
    return turns[-1].text(), [Message(m.role, m.text()) for m in turns[:-1]]


def _completion(cid: str, created: int, model_id: str, answer: Answer) -> dict[str, Any]:
    usage = {
        "prompt_tokens": answer.usage.get("prompt_tokens", 0),
        "completion_tokens": answer.usage.get("completion_tokens", 0),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model_id,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer.text},
             "finish_reason": answer.finish_reason or "stop"}
        ],
        "usage": usage,
        "rag": public_answer(answer),
    }


async def _sse(stream: AnswerStream, cid: str, created: int, model_id: str) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for piece in stream_pieces(stream):
            yield chunk({"content": piece})
        answer = stream.result()
        yield chunk({}, answer.finish_reason or "stop", rag=public_answer(answer))
    except RagError as exc:  # headers are sent already: report in-band, as OpenAI does
        yield f"data: {json.dumps(error_body(one_line(exc), 'api_error'))}\n\n"
    yield "data: [DONE]\n\n"
