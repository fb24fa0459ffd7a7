"""`rag serve` with the official `openai` client: every endpoint, both embedding encodings, every error shape.

Before: `client.embeddings.create(...)` without `encoding_format` (the SDK then
asks for base64) failed with 422, and malformed requests came back as
FastAPI's `{"detail": [...]}` instead of OpenAI's error envelope.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from rag_app.pipeline import Pipeline  # noqa: E402
from tests.support.asgi_server import ThreadedServer  # noqa: E402
from tests.support.serve_api import TOKEN  # noqa: E402

ENVELOPE_KEYS = {"message", "type", "param", "code"}


def envelope(exc: Any) -> dict[str, Any]:
    """The JSON body of an SDK error: exactly OpenAI's envelope, no FastAPI `detail`."""
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == ENVELOPE_KEYS, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message and "\n" not in message
    result: dict[str, Any] = body["error"]
    return result


def test_embeddings_default_encoding_is_base64_and_decodes_to_the_vectors(
    api_client: Any, api_pipeline: Pipeline
) -> None:
    result = api_client.embeddings.create(model="unit", input=["attention", "lora"])  # the SDK sends base64
    expected = api_pipeline.embedder.embed_documents(["attention", "lora"])
    assert [d.index for d in result.data] == [0, 1]
    for item, vector in zip(result.data, expected, strict=True):
        assert item.embedding == pytest.approx(vector, abs=1e-6)
    assert result.usage.prompt_tokens > 0


def test_embeddings_wire_formats(api_server: ThreadedServer, api_pipeline: Pipeline) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{api_server.url}/v1/embeddings"
    raw = httpx.post(url, json={"model": "unit", "input": "attention", "encoding_format": "base64"}, headers=headers)
    assert raw.status_code == 200, raw.text
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    dim = api_pipeline.embedder.dimension
    assert len(packed) == 4 * dim  # float32
    assert list(struct.unpack(f"<{dim}f", packed)) == pytest.approx(api_pipeline.embedder.embed_query("attention"),
                                                                    abs=1e-6)  # fmt: skip
    floats = httpx.post(url, json={"model": "unit", "input": "attention", "encoding_format": "float"}, headers=headers)
    assert floats.json()["data"][0]["embedding"] == pytest.approx(api_pipeline.embedder.embed_query("attention"))


def test_embeddings_float_and_single_string(api_client: Any, api_pipeline: Pipeline) -> None:
    result = api_client.embeddings.create(model=api_pipeline.embedder.name, input="attention", encoding_format="float")
    assert len(result.data) == 1 and len(result.data[0].embedding) == api_pipeline.embedder.dimension


@pytest.mark.parametrize(
    ("kwargs", "message", "param"),
    [
        ({"input": []}, "input must be a non-empty string", None),
        ({"input": ["ok", ""]}, "input must be a non-empty string", None),
        ({"input": [1, 2, 3]}, "token ids is not supported", None),
        ({"input": "x", "dimensions": 3}, "dimensions=3 is not supported", None),
        ({"input": "x", "encoding_format": "hex"}, "invalid value for 'encoding_format'", "encoding_format"),
    ],
)
def test_embedding_errors_are_400_envelopes(api_client: Any, kwargs: dict[str, Any], message: str,
                                            param: str | None) -> None:  # fmt: skip
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.embeddings.create(model="unit", **kwargs)
    error = envelope(caught.value)
    assert caught.value.status_code == 400 and error["type"] == "invalid_request_error"
    assert message in error["message"] and error["param"] == param


def test_embeddings_unknown_model_is_404(api_client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        api_client.embeddings.create(model="nope", input="x")
    assert envelope(caught.value)["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("kwargs", "message", "param"),
    [
        ({"messages": []}, "invalid value for 'messages'", "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "invalid value for 'messages[0].role'",
         "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x"}], "extra_body": {"top_k": 0}},
         "invalid value for 'top_k': input should be greater than 0", "top_k"),
        ({"messages": [{"role": "user", "content": "x"}], "extra_body": {"stream": "sometimes"}},
         "invalid value for 'stream'", "stream"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "the last message must be a non-empty user message",
         None),
    ],
)  # fmt: skip
def test_chat_validation_errors_are_400_envelopes(api_client: Any, kwargs: dict[str, Any], message: str,
                                                  param: str | None) -> None:  # fmt: skip
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.chat.completions.create(model="unit", **kwargs)
    error = envelope(caught.value)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["message"].startswith(message), error["message"]


def test_missing_parameter_and_broken_json(api_server: ThreadedServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    missing = httpx.post(f"{api_server.url}/v1/chat/completions", json={"model": "unit"}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"] == {"message": "missing required parameter 'messages'",
                                       "type": "invalid_request_error", "param": "messages", "code": None}  # fmt: skip
    wrong_type = httpx.post(
        f"{api_server.url}/v1/embeddings", json={"model": "unit", "input": {"a": 1}}, headers=headers
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["message"].startswith("invalid type for 'input': expected str or list[str]")
    assert wrong_type.json()["error"]["param"] == "input"
    broken = httpx.post(f"{api_server.url}/v1/embeddings", content=b'{"model": "unit", "input": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["message"] == "the request body is not valid JSON"


def test_models_endpoints(api_client: Any) -> None:
    assert [m.id for m in api_client.models.list()] == ["unit"]
    assert api_client.models.retrieve("unit").id == "unit"
    with pytest.raises(openai.NotFoundError) as caught:
        api_client.models.retrieve("nope")
    assert envelope(caught.value)["code"] == "model_not_found"


def test_chat_completion_and_stream(api_client: Any) -> None:
    question = [{"role": "user", "content": "How does attention scale with sequence length?"}]
    completion = api_client.chat.completions.create(model="unit", messages=question)
    assert "quadratically" in (completion.choices[0].message.content or "")
    chunks = list(api_client.chat.completions.create(model="unit", messages=question, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop" and "rag" in chunks[-1].model_extra


def test_max_tokens_caps_the_answer_and_says_length(api_client: Any) -> None:
    question = [{"role": "user", "content": "How does attention scale with sequence length?"}]
    completion = api_client.chat.completions.create(model="unit", messages=question, max_tokens=3)
    text = completion.choices[0].message.content or ""
    words = [w for w in text.split() if not w.startswith("[")]  # the check may attach the supporting [n]
    assert len(words) == 3 and completion.choices[0].finish_reason == "length", text
    assert completion.usage.completion_tokens == 3
    chunks = list(api_client.chat.completions.create(model="unit", messages=question, max_tokens=3, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).split() == words  # as generated
    assert chunks[-1].choices[0].finish_reason == "length"
    whole = api_client.chat.completions.create(model="unit", messages=question)
    assert whole.choices[0].finish_reason == "stop" and len((whole.choices[0].message.content or "").split()) > 3


def test_unknown_route_wrong_method_and_bad_token(api_client: Any, api_server: ThreadedServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        api_client.get("/nope", cast_to=httpx.Response)
    assert envelope(caught.value)["message"] == "unknown endpoint GET /v1/nope; see GET /v1/models"
    wrong = httpx.get(f"{api_server.url}/v1/embeddings", headers={"Authorization": f"Bearer {TOKEN}"})
    assert wrong.status_code == 405 and set(wrong.json()["error"]) == ENVELOPE_KEYS
    bad = openai.OpenAI(base_url=str(api_client.base_url), api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad.embeddings.create(model="unit", input="x")
    assert envelope(auth.value)["code"] == "invalid_api_key"
