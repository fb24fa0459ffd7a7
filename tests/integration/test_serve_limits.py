"""`rag serve` under hostile requests: every limit is an OpenAI-envelope error a client can read.

Before: a 30 MB body was accepted, 2,000 embedding inputs
produced a 16 MB answer, `/docs` and `/openapi.json` were open with a token
set, a malformed body got 400 before a missing token got 401, `bearer` in
lower case was refused, `rag.sources[].source` showed the server's absolute
paths, and a 4 MB question was answered with "lower the context budget".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from rag_app.config import PipelineConfig, ServerConfig  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402
from rag_app.server.app import create_app  # noqa: E402
from tests.support.asgi_server import ThreadedServer  # noqa: E402
from tests.support.serve_api import AUTH, TOKEN  # noqa: E402

QUESTION = [{"role": "user", "content": "How does attention scale with sequence length?"}]


def envelope(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert "\n" not in body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def test_defaults_are_the_documented_limits() -> None:
    limits = ServerConfig()
    assert (limits.max_request_mb, limits.max_message_chars, limits.max_embedding_inputs) == (1.0, 16_000, 256)
    assert (limits.max_concurrent_generations, limits.max_queued_generations, limits.retry_after_s) == (2, 8, 5)


def test_a_4_mb_question_is_refused_by_the_body_limit(api_client: Any) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        api_client.chat.completions.create(model="unit", messages=[{"role": "user", "content": "why " * 2**20}])
    assert caught.value.status_code == 413
    error = envelope(caught.value.response)
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    assert error["message"] == ("the request body is 4.0 MB; this server accepts at most 1.0 MB "
                                "(server.max_request_mb in its config)")  # fmt: skip
    assert "context" not in error["message"]


def test_a_chunked_body_is_counted_as_it_arrives(api_server: ThreadedServer) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"model": "unit", "input": "'
        for _ in range(40):
            yield b"x" * 2**16  # 2.5 MB in all, no Content-Length
        yield b'"}'

    response = httpx.post(f"{api_server.url}/v1/embeddings", content=parts(), headers=AUTH, timeout=30)
    assert response.status_code == 413
    assert envelope(response)["message"].startswith("the request body is larger than that; ")


def test_a_long_question_is_a_400_naming_the_limit(api_client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.chat.completions.create(model="unit", messages=[{"role": "user", "content": "why " * 5000}])
    error = envelope(caught.value.response)
    assert error["code"] == "message_too_long" and error["param"] == "messages[0].content"
    assert error["message"].startswith("messages[0] is 20,000 characters; this server accepts at most 16,000")


def test_too_many_messages(api_client: Any) -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 50
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.chat.completions.create(model="unit", messages=[*history, *QUESTION])
    error = envelope(caught.value.response)
    assert error["code"] == "too_many_messages" and "at most 100" in error["message"]


def test_embedding_input_count_and_length_are_capped(api_client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.embeddings.create(model="unit", input=["word"] * 2000)
    error = envelope(caught.value.response)
    assert error["code"] == "too_many_inputs" and error["param"] == "input"
    assert error["message"].startswith("2,000 inputs sent; this server embeds at most 256 per request")
    with pytest.raises(openai.BadRequestError) as caught:
        api_client.embeddings.create(model="unit", input=["short", "y" * 16_001])
    error = envelope(caught.value.response)
    assert error["code"] == "input_too_long" and error["param"] == "input[1]"
    assert len(api_client.embeddings.create(model="unit", input=["word"] * 256).data) == 256


def test_limits_come_from_the_config_server_section(
    make_config: Callable[..., PipelineConfig], docs_dir: Path
) -> None:
    config = make_config(generator={"type": "extractive"}, server={"max_embedding_inputs": 2, "max_request_mb": 0.01})
    with ThreadedServer(create_app(build_pipeline(config))) as running:
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="none", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="at most 2 per request"):
            client.embeddings.create(model="unit", input=["a", "b", "c"])
        with pytest.raises(openai.APIStatusError, match=r"accepts at most 10,485 bytes") as caught:
            client.embeddings.create(model="unit", input="z" * 20_000)
        assert caught.value.status_code == 413


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/v1/models"])
def test_docs_and_schema_need_the_token(api_server: ThreadedServer, path: str) -> None:
    refused = httpx.get(f"{api_server.url}{path}")
    assert refused.status_code == 401 and envelope(refused)["code"] == "invalid_api_key"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{api_server.url}{path}", headers=AUTH).status_code == 200


def test_authentication_comes_before_validation(api_server: ThreadedServer) -> None:
    url = f"{api_server.url}/v1/chat/completions"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        broken = httpx.post(url, content=b'{"model": ', headers={**headers, "Content-Type": "application/json"})
        assert broken.status_code == 401, (headers, broken.text)
        assert envelope(broken)["code"] == "invalid_api_key"
    big = httpx.post(url, content=b"x" * 900_000, headers={"Content-Type": "application/json"})
    assert big.status_code == 401  # an unauthenticated body is not judged
    assert httpx.post(url, content=b'{"model": ', headers=AUTH).status_code == 400


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(api_server: ThreadedServer, scheme: str) -> None:
    response = httpx.get(f"{api_server.url}/v1/models", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200, response.text


def test_sources_are_relative_to_the_ingested_folder(
    api_client: Any, api_server: ThreadedServer, docs_dir: Path
) -> None:
    completion = api_client.chat.completions.create(model="unit", messages=QUESTION)
    rag = completion.model_extra["rag"]
    assert rag["sources"][0]["source"] == "attention.md"
    assert {c["source"] for c in rag["citations"]} <= {s["source"] for s in rag["sources"]}
    assert str(docs_dir) not in completion.model_dump_json()
    nested = api_client.chat.completions.create(
        model="unit", messages=[{"role": "user", "content": "How does BM25 rank documents by term frequency?"}]
    )
    assert "notes/bm25.txt" in [s["source"] for s in nested.model_extra["rag"]["sources"]]
    chunks = list(api_client.chat.completions.create(model="unit", messages=QUESTION, stream=True))
    streamed = chunks[-1].model_extra["rag"]
    assert streamed["sources"][0]["source"] == "attention.md"
    assert all(str(docs_dir) not in json.dumps(c.model_dump()) for c in chunks)


def test_a_typo_in_the_server_section_lists_the_valid_keys(make_config: Callable[..., PipelineConfig]) -> None:
    from rag_app.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown key 'server.max_body_mb' \(valid keys: max_request_mb, "):
        make_config(server={"max_body_mb": 2})
    with pytest.raises(ConfigError, match="server.max_queued_generations"):
        make_config(server={"max_queued_generations": -1})
