"""Every error the API returns uses OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``.

FastAPI answers a request that fails validation with ``422 {"detail": [...]}``
and unknown routes with ``404 {"detail": "Not Found"}``; OpenAI answers 400
``invalid_request_error`` with one line naming the parameter. The handlers here
make every failure look like OpenAI's, so SDKs raise their usual exceptions
(``BadRequestError``, ``NotFoundError`` ...) with a readable message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag_app.server.schemas import error_body

logger = logging.getLogger(__name__)

_STATUS_TYPES = {401: "invalid_request_error", 403: "invalid_request_error", 404: "invalid_request_error",
                 405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}  # fmt: skip


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "dict", "list", "literal"}


def _is_type_tag(part: int | str) -> bool:
    """Pydantic names the member of a union it tried (``str``, ``list[str]``) as a location part."""
    return isinstance(part, str) and (part in _TYPE_TAGS or any(c in part for c in "[]-"))


def param_path(loc: Sequence[int | str]) -> str | None:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role``; None for the body itself."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header") and not _is_type_tag(p)]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    """One line for a list of pydantic errors (the first, plus how many more), and its parameter."""
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    param = param_path(first.get("loc", ()))
    kind = str(first.get("type", ""))
    same = [e for e in errors if param_path(e.get("loc", ())) == param]
    tags = [str(e["loc"][-1]) for e in same if e.get("loc") and _is_type_tag(e["loc"][-1])]
    if kind == "json_invalid":
        message = "the request body is not valid JSON"
    elif kind == "missing":
        message = f"missing required parameter '{param}'" if param else "the request body is missing"
    elif param is None:
        message = f"invalid request body: {first.get('msg', 'invalid')}"
    elif len(tags) > 1:  # no member of a union matched
        message = f"invalid type for '{param}': expected {' or '.join(tags)}"
    else:
        message = f"invalid value for '{param}': {_lower_first(str(first.get('msg', 'invalid')))}"
    others = {param_path(e.get("loc", ())) for e in errors[1:]} - {param}
    if others:
        message += f" (and {len(others)} more invalid parameter{'s' if len(others) > 1 else ''})"
    return message, param


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def install(app: FastAPI) -> None:
    """Register the envelope handlers for validation errors, HTTP errors and unexpected exceptions."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(exc.errors()))
        return JSONResponse(error_body(message, "invalid_request_error", param=param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"unknown endpoint {request.method} {request.url.path}; see GET /v1/models"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        kind = _STATUS_TYPES.get(exc.status_code, "api_error" if exc.status_code >= 500 else "invalid_request_error")
        return JSONResponse(error_body(message, kind), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("request failed")
        return JSONResponse(error_body(f"internal error ({type(exc).__name__})", "api_error"), status_code=500)
