"""Request and response shapes of the OpenAI-compatible API (the subset rag_app serves)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    """A chat message; content may be a string or OpenAI content parts (text parts are joined)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``. ``max_tokens`` (or ``max_completion_tokens``) caps the answer;
    other sampling fields are accepted and the pipeline's config decides them."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    stream_options: dict[str, Any] | None = None
    top_k: int | None = Field(default=None, gt=0, le=100, description="rag_app extension: chunks to retrieve")


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``. Token-id input is accepted by the schema and refused with a clear message."""

    model_config = ConfigDict(extra="allow")
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = Field(
        default=None, description="base64: little-endian float32 bytes, what the openai SDK asks for by default"
    )
    dimensions: int | None = Field(default=None, gt=0)


def error_body(message: str, kind: str, code: str | None = None, *, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
