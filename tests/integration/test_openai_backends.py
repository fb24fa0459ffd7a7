"""OpenAIGenerator and OpenAIEmbedder against a real local HTTP server speaking the OpenAI wire format.

The official ``openai`` SDK does the talking; retries and timeouts are kept
small so the whole module runs in a few seconds. A live test against
api.openai.com runs only when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from rag_app.backends.embedders.openai import OpenAIEmbedder
from rag_app.backends.generators.openai import OpenAIGenerator
from rag_app.backends.generators.stops import drain
from rag_app.errors import BackendError, ConfigError
from rag_app.types import Message
from tests.support.openai_stub import OpenAIStub

KEY_ENV = "RAG_TEST_STUB_KEY"
MESSAGES = [Message("system", "Answer briefly."), Message("user", "What is the capital of France?")]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def stub(server: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> OpenAIStub:
    server.reset()
    monkeypatch.setenv(KEY_ENV, server.api_key)
    return server


def generator(stub: OpenAIStub, **params: Any) -> OpenAIGenerator:
    defaults: dict[str, Any] = {
        "model": "stub-chat",
        "base_url": stub.base_url,
        "api_key_env": KEY_ENV,
        "timeout_s": 2.0,
        "max_retries": 2,
    }
    return OpenAIGenerator(OpenAIGenerator.Params(**{**defaults, **params}))


def embedder(stub: OpenAIStub, **params: Any) -> OpenAIEmbedder:
    defaults: dict[str, Any] = {
        "model": "stub-embed",
        "dimension": 8,
        "base_url": stub.base_url,
        "api_key_env": KEY_ENV,
        "timeout_s": 2.0,
        "max_retries": 1,
    }
    return OpenAIEmbedder(OpenAIEmbedder.Params(**{**defaults, **params}))


# --- generator ------------------------------------------------------------------------------


def test_generate_returns_text_usage_and_sends_params(stub: OpenAIStub) -> None:
    result = generator(stub, temperature=0.0).generate(MESSAGES, max_tokens=50)
    assert result.text == "Paris is the capital of France [1]."
    assert result.finish_reason == "stop"
    assert result.completion_tokens == 7 and result.prompt_tokens > 0
    body = stub.requests[-1]["body"]
    assert body["messages"][1] == {"role": "user", "content": "What is the capital of France?"}
    assert body["max_tokens"] == 50 and body["temperature"] == 0.0  # base_url set -> classic field name


def test_stream_joins_to_the_generated_text_and_reports_usage(stub: OpenAIStub) -> None:
    gen = generator(stub)
    pieces = list(gen.stream(MESSAGES))
    assert len(pieces) > 3
    text, result = drain(gen.stream(MESSAGES))
    assert "".join(pieces) == text == gen.generate(MESSAGES).text
    stream_request = stub.requests[0]["body"]
    assert stream_request["stream"] is True and stream_request["stream_options"] == {"include_usage": True}
    assert result is not None and result.text == text  # the stream returns the usage the server sent
    assert result.completion_tokens == 7 and result.prompt_tokens > 0 and result.finish_reason == "stop"


def test_max_tokens_reports_length(stub: OpenAIStub) -> None:
    result = generator(stub).generate(MESSAGES, max_tokens=3)
    assert result.text == "Paris is the " and result.finish_reason == "length"


def test_stop_sequences_cut_in_both_modes(stub: OpenAIStub) -> None:
    gen = generator(stub, stop=["capital"])
    assert gen.generate(MESSAGES).text == "Paris is the "
    assert "".join(gen.stream(MESSAGES)) == "Paris is the "
    assert stub.requests[-1]["body"]["stop"] == ["capital"]
    # a server that ignores `stop` is cut client-side, mid-piece too
    stub.behaviour.reply = "alpha beta STOP gamma"
    assert gen.generate(MESSAGES, stop=["TO"]).text == "alpha beta S"
    assert "".join(gen.stream(MESSAGES, stop=["TO"])) == "alpha beta S"


def test_stream_stopped_early_closes_cleanly(stub: OpenAIStub) -> None:
    stub.behaviour.reply = " ".join(f"w{i}" for i in range(200))
    stream: Any = generator(stub).stream(MESSAGES)  # a generator: close() ends it early
    assert next(stream) == "w0 "
    stream.close()  # must not hang or raise


def test_429_once_is_retried_by_the_sdk(stub: OpenAIStub) -> None:
    stub.behaviour.fail_next = [429]
    assert generator(stub).generate(MESSAGES).text.startswith("Paris")
    assert len(stub.requests) == 2


def test_sdk_backoff_without_retry_after(stub: OpenAIStub) -> None:
    stub.behaviour.fail_next = [503]
    stub.behaviour.retry_after_ms = None
    started = time.monotonic()
    assert generator(stub, max_retries=1).generate(MESSAGES).text
    assert 0.3 < time.monotonic() - started < 3  # the SDK's own 0.5 s (-25% jitter) first backoff


def test_429_after_retries_is_one_line_backend_error(stub: OpenAIStub) -> None:
    stub.behaviour.always_status = 429
    with pytest.raises(BackendError, match=r"rate-limited.*\(429\) after 2 retries") as info:
        generator(stub).generate(MESSAGES)
    assert len(stub.requests) == 3 and "\n" not in str(info.value)


def test_500_always_fails_after_retries(stub: OpenAIStub) -> None:
    stub.behaviour.always_status = 500
    with pytest.raises(BackendError, match=r"failed with 500 after 1 retry.*try again later"):
        list(generator(stub, max_retries=1).stream(MESSAGES))
    assert len(stub.requests) == 2


def test_timeout_names_the_setting(stub: OpenAIStub) -> None:
    stub.behaviour.delay_s = 1.5
    started = time.monotonic()
    with pytest.raises(
        BackendError, match=r"did not answer within timeout_s=0.3 after 0 retries; raise timeout_s"
    ):
        generator(stub, timeout_s=0.3, max_retries=0).generate(MESSAGES)
    assert time.monotonic() - started < 1.4


def test_stall_mid_stream_is_a_backend_error(stub: OpenAIStub) -> None:
    stub.behaviour.stall_after_words = 2
    stub.behaviour.delay_s = 1.5
    received: list[str] = []
    with pytest.raises(BackendError, match=r"stream from .* stalled longer than timeout_s=0.3"):
        for piece in generator(stub, timeout_s=0.3, max_retries=0).stream(MESSAGES):
            received.append(piece)
    assert received == ["Paris ", "is "]


def test_bad_key_is_401_with_fix(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with pytest.raises(
        ConfigError, match=rf"rejected the API key from \${KEY_ENV} \(401\); set a valid key"
    ):
        generator(stub).generate(MESSAGES)
    assert len(stub.requests) == 1  # 401 is not retried


def test_unknown_model_names_the_setting(stub: OpenAIStub) -> None:
    with pytest.raises(BackendError, match=r"model 'nope' not found.*404.*generator.params.model"):
        generator(stub, model="nope").generate(MESSAGES)


def test_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.asgi_server import free_port

    gen = OpenAIGenerator(
        OpenAIGenerator.Params(
            base_url=f"http://127.0.0.1:{free_port()}/v1", api_key_env="RAG_TEST_UNSET_KEY", max_retries=0
        )
    )
    monkeypatch.delenv("RAG_TEST_UNSET_KEY", raising=False)  # base_url without a key: a dummy key is sent
    with pytest.raises(BackendError, match=r"cannot reach server at http://127\.0\.0\.1:.*check base_url"):
        gen.generate(MESSAGES)


def test_missing_key_for_openai_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_TEST_UNSET_KEY", raising=False)
    gen = OpenAIGenerator(OpenAIGenerator.Params(api_key_env="RAG_TEST_UNSET_KEY"))
    with pytest.raises(ConfigError, match=r"\$RAG_TEST_UNSET_KEY is not set"):
        gen.generate(MESSAGES)


def test_openai_default_uses_max_completion_tokens() -> None:
    gen = OpenAIGenerator(OpenAIGenerator.Params(max_tokens=10))
    request = gen._request(MESSAGES, None, [])
    assert request["max_completion_tokens"] == 10 and "max_tokens" not in request


# --- embedder (rag_app/backends/embedders/openai.py) ------------------------------------------


def test_embedder_batches_and_keeps_order(stub: OpenAIStub) -> None:
    texts = [f"text number {i}" for i in range(7)]
    emb = embedder(stub, batch_size=3)
    vectors = emb.embed_documents(texts)
    assert len(vectors) == 7 and all(len(v) == 8 for v in vectors)
    assert [len(r["body"]["input"]) for r in stub.requests] == [3, 3, 1]
    assert vectors[4] == pytest.approx(emb.embed_query("text number 4"), abs=1e-6)
    assert sum(x * x for x in vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_embedder_dimension_mismatch_is_a_config_error(stub: OpenAIStub) -> None:
    with pytest.raises(ConfigError, match=r"returned 8-d vectors but the config says dimension: 16"):
        embedder(stub, dimension=16).embed_query("hello")


def test_embedder_requests_dimensions_when_asked(stub: OpenAIStub) -> None:
    assert len(embedder(stub, dimension=16, request_dimensions=True).embed_query("hello")) == 16
    assert stub.requests[-1]["body"]["dimensions"] == 16


def test_embedder_retries_429_then_succeeds(stub: OpenAIStub) -> None:
    stub.behaviour.fail_next = [429]
    assert len(embedder(stub).embed_query("hello")) == 8
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("setup", "pattern"),
    [
        ({"always_status": 500}, r"failed with 500 after 0 retries: .*; try again later"),
        ({"always_status": 429}, r"rate-limited the request \(429\) after 0 retries"),
        ({"delay_s": 1.0}, r"did not answer within timeout_s=0.3 after 0 retries"),
    ],
)
def test_embedder_errors_are_backend_errors(stub: OpenAIStub, setup: dict[str, Any], pattern: str) -> None:
    for key, value in setup.items():
        setattr(stub.behaviour, key, value)
    with pytest.raises(BackendError, match=pattern):
        embedder(stub, timeout_s=0.3, max_retries=0).embed_query("hello")


def test_embedder_bad_key(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    expected = rf"^server at .* rejected the API key from \${KEY_ENV} \(401\); set a valid key$"
    with pytest.raises(ConfigError, match=expected):
        embedder(stub).embed_query("hello")


def test_embedder_and_generator_say_the_same_for_the_same_failure(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with pytest.raises(ConfigError) as from_embedder:
        embedder(stub).embed_query("hello")
    with pytest.raises(ConfigError) as from_generator:
        generator(stub).generate(MESSAGES)
    assert str(from_embedder.value) == str(from_generator.value)

    monkeypatch.delenv("RAG_TEST_UNSET_KEY", raising=False)
    unset = {"base_url": None, "api_key_env": "RAG_TEST_UNSET_KEY"}
    with pytest.raises(ConfigError) as no_key_embedder:
        embedder(stub, **unset).embed_query("hello")
    with pytest.raises(ConfigError) as no_key_generator:
        generator(stub, **unset).generate(MESSAGES)
    assert str(no_key_embedder.value) == str(no_key_generator.value) == (
        "$RAG_TEST_UNSET_KEY is not set: export it or add it to .env"
    )

    from tests.support.asgi_server import free_port

    nowhere = {"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0}
    with pytest.raises(BackendError, match=r"^cannot reach server at http://127\.0\.0\.1:\d+/v1 after 0 retries; "
                       r"check base_url and that the server is running$"):
        embedder(stub, **nowhere).embed_query("hello")


# --- live ---------------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY is not set")
def test_live_openai_generate_and_stream() -> None:
    gen = OpenAIGenerator(
        OpenAIGenerator.Params(
            model=os.environ.get("RAG_LIVE_CHAT_MODEL", "gpt-4o-mini"), max_tokens=20, timeout_s=30
        )
    )
    messages = [Message("user", "Reply with the single word: pong")]
    assert "pong" in gen.generate(messages).text.lower()
    assert "pong" in "".join(gen.stream(messages)).lower()
