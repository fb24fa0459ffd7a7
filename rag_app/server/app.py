"""FastAPI app: ``/v1/chat/completions`` (streaming and not), ``/v1/models``, ``/v1/embeddings``.

Any OpenAI client can talk to a rag_app pipeline. The answer is the message
content; the sources and checked citations travel in an extra top-level
``rag`` field (on the last chunk when streaming), which OpenAI SDKs keep as
an extra attribute (``completion.model_extra["rag"]``).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag_app.answering import answer_dict
from rag_app.errors import BackendError, InputError, RagError, one_line
from rag_app.pipeline import Pipeline
from rag_app.server import errors
from rag_app.server.schemas import ChatRequest, EmbeddingRequest, error_body
from rag_app.types import Answer, Message

logger = logging.getLogger(__name__)


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code


def create_app(pipeline: Pipeline, *, token: str | None = None) -> FastAPI:
    """The API for one pipeline; requests need ``Authorization: Bearer <token>`` when a token is given."""
    app = FastAPI(title="rag_app", version="1", docs_url="/docs", redoc_url=None)
    errors.install(app)
    model_id = pipeline.config.name

    def authorize(request: Request) -> None:
        if token is None:
            return
        supplied = request.headers.get("authorization", "")
        if not secrets.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            raise APIError(401, "invalid or missing bearer token", "invalid_request_error", "invalid_api_key")

    @app.exception_handler(APIError)
    def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.kind, exc.code), status_code=exc.status)

    @app.exception_handler(RagError)
    def _rag_error(_: Request, exc: RagError) -> JSONResponse:
        status = 502 if isinstance(exc, BackendError) else 400
        kind = "api_error" if status == 502 else "invalid_request_error"
        return JSONResponse(error_body(one_line(exc), kind), status_code=status)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(model_id)]}

    @app.get("/v1/models/{name}", dependencies=[Depends(authorize)])
    def model(name: str) -> dict[str, Any]:
        _check_model(name, model_id)
        return _model_card(model_id)

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)], response_model=None)
    def chat(req: ChatRequest) -> JSONResponse | StreamingResponse:
        _check_model(req.model, model_id)
        question, history = _split(req)
        stream = pipeline.stream(question, history=history, top_k=req.top_k)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not req.stream:
            answer = stream.result()
            return JSONResponse(_completion(cid, created, model_id, answer))
        return StreamingResponse(_sse(stream, cid, created, model_id), media_type="text/event-stream")

    @app.post("/v1/embeddings", dependencies=[Depends(authorize)])
    def embeddings(req: EmbeddingRequest) -> dict[str, Any]:
        embedder = pipeline.embedder
        if req.model not in (model_id, embedder.name):
            raise APIError(404, f"model {req.model!r} not found; embeddings are served as {model_id!r} "
                           f"(or {embedder.name!r})", "invalid_request_error", "model_not_found")  # fmt: skip
        texts = _texts(req.input)
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


def _texts(value: str | list[str] | list[int] | list[list[int]]) -> list[str]:
    """The input strings; token ids and empty strings are refused in one line."""
    items: list[Any] = [value] if isinstance(value, str) else list(value)
    if any(not isinstance(t, str) for t in items):
        raise InputError("input as token ids is not supported; send a string or a list of strings")
    if not items or any(not t for t in items):
        raise InputError("input must be a non-empty string or list of non-empty strings")
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
            {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
        ],
        "usage": usage,
        "rag": answer_dict(answer),
    }


def _sse(stream: Any, cid: str, created: int, model_id: str) -> Iterator[str]:
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
        for piece in stream:
            yield chunk({"content": piece})
        answer = stream.result()
        yield chunk({}, "stop", rag=answer_dict(answer))
    except RagError as exc:  # headers are sent already: report in-band, as OpenAI does
        yield f"data: {json.dumps(error_body(one_line(exc), 'api_error'))}\n\n"
    yield "data: [DONE]\n\n"
