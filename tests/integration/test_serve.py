"""`rag serve` is a real OpenAI-protocol server: the official SDK talks to it.

The served pipeline retrieves with the fast test stack and answers through
the `openai` generator pointed at a local OpenAI-protocol stub, so the whole
path client -> rag_app API -> pipeline -> generator API runs over HTTP on
127.0.0.1. A second pipeline then uses `rag serve` itself as its generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")

from rag_app.config import PipelineConfig  # noqa: E402
from rag_app.pipeline import Pipeline, build_pipeline  # noqa: E402
from rag_app.server.app import create_app  # noqa: E402
from tests.support.asgi_server import ThreadedServer  # noqa: E402
from tests.support.openai_stub import OpenAIStub  # noqa: E402

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def pipeline(make_config: Callable[..., PipelineConfig], docs_dir: Path, stub: OpenAIStub,
             monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    stub.reset()
    stub.behaviour.reply = "Attention cost grows quadratically with sequence length [1]. Also [7]."
    monkeypatch.setenv("RAG_TEST_STUB_KEY", stub.api_key)
    generator = {"type": "openai", "params": {
        "model": "stub-chat", "base_url": stub.base_url, "api_key_env": "RAG_TEST_STUB_KEY", "max_retries": 0}}
    p = build_pipeline(make_config(generator=generator, answer={"min_score": 0.2}))
    p.ingest([docs_dir])
    return p


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[openai.OpenAI]:
    with ThreadedServer(create_app(pipeline, token=TOKEN)) as server:
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0, timeout=30)


def test_models_lists_the_pipeline(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["unit"]


def test_chat_completion_answers_with_checked_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="unit", messages=[{"role": "user", "content": "How does attention scale with sequence length?"}]
    )
    text = completion.choices[0].message.content
    assert text is not None and "quadratically" in text and "[7]" not in text
    rag = completion.model_extra["rag"]
    assert rag["invalid_citations"] == [7]
    assert rag["citations"][0]["number"] == 1
    assert rag["citations"][0]["source"] == rag["sources"][0]["source"]
    assert rag["sources"][0]["source"].endswith("attention.md")
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_streaming_chat_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="unit",
        stream=True,
        messages=[{"role": "user", "content": "How does attention scale with sequence length?"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "quadratically" in text and len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    rag = chunks[-1].model_extra["rag"]
    assert rag["sources"]
    # the last chunk carries the answer that was streamed, finished once (not re-run on empty text)
    assert rag["answer"] == text.replace(" Also [7].", " Also.").strip()
    assert [c["number"] for c in rag["citations"]] == [1] and rag["invalid_citations"] == [7]
    assert rag["timings"]["first_token"] < rag["timings"]["total"]


def test_history_is_passed_through(client: openai.OpenAI, stub: OpenAIStub) -> None:
    client.chat.completions.create(model="unit", messages=[
        {"role": "user", "content": "What is LoRA?"},
        {"role": "assistant", "content": "A low-rank adapter."},
        {"role": "user", "content": "How does attention scale?"},
    ])
    sent = stub.requests[-1]["body"]["messages"]
    assert any(m["content"] == "A low-rank adapter." for m in sent)


def test_embeddings_endpoint(client: openai.OpenAI, pipeline: Pipeline) -> None:
    result = client.embeddings.create(model="unit", input=["attention", "lora"], encoding_format="float")
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx(pipeline.embedder.embed_documents(["attention"])[0])


def test_errors_are_openai_shaped(client: openai.OpenAI, pipeline: Pipeline) -> None:
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="non-empty user message"):
        client.chat.completions.create(model="unit", messages=[{"role": "user", "content": "  "}])
    bad = openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_a_rejected_generator_key_is_a_400_naming_the_setting(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_TEST_STUB_KEY", "sk-wrong")  # read when the generator makes its client
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="unit", messages=[{"role": "user", "content": "How does attention scale with sequence length?"}]
        )
    assert err.value.status_code == 400
    assert err.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert err.value.body["message"].endswith(  # type: ignore[index]
        "rejected the API key from $RAG_TEST_STUB_KEY (401); set a valid key"
    )


def test_abstains_when_nothing_relevant(client: openai.OpenAI, stub: OpenAIStub) -> None:
    before = len(stub.requests)
    completion = client.chat.completions.create(
        model="unit", messages=[{"role": "user", "content": "zzz qqq xyzzy"}]
    )
    assert completion.model_extra["rag"]["abstained"] is True
    assert len(stub.requests) == before  # no generator call


def test_rag_serve_is_itself_a_generator_backend(
    client: openai.OpenAI, make_config: Callable[..., PipelineConfig], docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_TEST_SERVE_TOKEN", TOKEN)
    generator = {"type": "openai", "params": {
        "model": "unit", "base_url": str(client.base_url), "api_key_env": "RAG_TEST_SERVE_TOKEN", "max_retries": 0}}
    outer = build_pipeline(make_config(generator=generator, answer={"min_score": 0.2}))
    outer.ingest([docs_dir])
    answer = outer.answer("How does attention scale with sequence length?")
    assert "quadratically" in answer.text


def test_a_low_confidence_answer_is_flagged_streamed_and_not(
    make_config: Callable[..., PipelineConfig], docs_dir: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.reset()
    stub.behaviour.reply = "Attention cost grows quadratically with sequence length [1]."
    stub.behaviour.p_yes = 0.6  # the judge's request gets these log-probabilities
    monkeypatch.setenv("RAG_TEST_STUB_KEY", stub.api_key)
    generator = {"type": "openai", "params": {
        "model": "stub-chat", "base_url": stub.base_url, "api_key_env": "RAG_TEST_STUB_KEY", "max_retries": 0}}
    answer = {"min_score": 0.2, "judge": {"threshold": 0.5, "caution": 0.8}}
    judged = build_pipeline(make_config(generator=generator, answer=answer))
    judged.ingest([docs_dir])
    messages: Any = [{"role": "user", "content": "How does attention scale with sequence length?"}]
    with ThreadedServer(create_app(judged, token=TOKEN)) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0, timeout=30)
        completion = client.chat.completions.create(model="unit", messages=messages)
        rag = completion.model_extra["rag"]
        assert rag["low_confidence"] is True and rag["answerable"] == pytest.approx(0.6)
        assert completion.choices[0].message.content == "Attention cost grows quadratically with sequence length [1]."
        chunks = list(client.chat.completions.create(model="unit", messages=messages, stream=True))
        assert chunks[-1].model_extra["rag"]["low_confidence"] is True
        stub.behaviour.p_yes = 0.95
        confident = client.chat.completions.create(model="unit", messages=messages).model_extra["rag"]
        assert confident["low_confidence"] is False and not confident["abstained"]
    judged.close()
