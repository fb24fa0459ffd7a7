"""`rag serve` stops generating for clients that left, and a full queue answers 503 with Retry-After.

Before: a client that dropped a streaming request was not
noticed; generation ran to the end and queued requests waited behind it. The
pipeline here answers through :class:`~tests.support.slow_generator.SlowGenerator`
(the extractive answer, one word per 50 ms), so a generation that is not
stopped takes seconds longer than one that is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from rag_app.config import PipelineConfig, ServerConfig  # noqa: E402
from rag_app.pipeline import Pipeline, build_pipeline  # noqa: E402
from rag_app.server.app import create_app  # noqa: E402
from tests.support.asgi_server import ThreadedServer  # noqa: E402
from tests.support.slow_generator import SlowGenerator  # noqa: E402

QUESTION = [{"role": "user", "content": "How does attention scale with sequence length?"}]


@pytest.fixture
def generator() -> SlowGenerator:
    return SlowGenerator(delay_s=0.05, repeat=40)


@pytest.fixture
def pipeline(make_config: Callable[..., PipelineConfig], docs_dir: Path, generator: SlowGenerator) -> Pipeline:
    p = build_pipeline(make_config(generator={"type": "extractive"}, answer={"min_score": 0.05}))
    p.ingest([docs_dir])
    p.generator = generator
    return p


@pytest.fixture
def server(pipeline: Pipeline) -> Iterator[ThreadedServer]:
    limits = ServerConfig(max_concurrent_generations=1, max_queued_generations=1, retry_after_s=7)
    with ThreadedServer(create_app(pipeline, limits=limits)) as running:
        yield running


@pytest.fixture
def client(server: ThreadedServer) -> Any:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=60)


def test_a_dropped_stream_stops_its_generation(client: Any, generator: SlowGenerator) -> None:
    stream = client.chat.completions.create(model="unit", messages=QUESTION, stream=True)
    received = [next(stream) for _ in range(4)]  # the role chunk and three words
    assert received[-1].choices[0].delta.content
    stream.close()  # the client goes away mid-answer
    assert generator.closed.wait(5), "the generator's stream was never closed"
    stopped_at = generator.yielded
    assert generator.total > 200 and stopped_at < 40, (stopped_at, generator.total)
    time.sleep(0.3)
    assert generator.yielded == stopped_at  # nothing is generated for nobody


def test_a_dropped_plain_request_stops_its_generation(server: ThreadedServer, generator: SlowGenerator) -> None:
    body = {"model": "unit", "messages": QUESTION}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=0.5)
    assert generator.closed.wait(5), "the generation went on after its client left"
    assert generator.yielded < generator.total / 2, (generator.yielded, generator.total)


def test_the_turn_of_a_dropped_stream_goes_to_the_next_request(client: Any, generator: SlowGenerator) -> None:
    stream = client.chat.completions.create(model="unit", messages=QUESTION, stream=True)
    next(stream), next(stream)
    stream.close()
    generator.repeat = 1
    started = time.monotonic()
    completion = client.chat.completions.create(model="unit", messages=QUESTION)
    assert "quadratically" in (completion.choices[0].message.content or "")
    assert time.monotonic() - started < 5  # the dropped one would still need ~14 s


def test_a_full_queue_is_503_with_retry_after(pipeline: Pipeline, generator: SlowGenerator) -> None:
    limits = ServerConfig(max_concurrent_generations=1, max_queued_generations=1, retry_after_s=7)
    app = create_app(pipeline, limits=limits)
    with ThreadedServer(app) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=60)
        running = client.chat.completions.create(model="unit", messages=QUESTION, stream=True)
        next(running)
        queued: list[Any] = []
        waiting = threading.Thread(target=lambda: queued.append(
            client.chat.completions.create(model="unit", messages=QUESTION)), daemon=True)  # fmt: skip
        waiting.start()
        deadline = time.monotonic() + 10
        while app.state.generation_slots.admitted < 2:  # the second request holds the one queue place
            assert time.monotonic() < deadline, "the second request was never queued"
            time.sleep(0.02)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="unit", messages=QUESTION)
        assert caught.value.status_code == 503
        assert caught.value.response.headers["retry-after"] == "7"
        error = caught.value.response.json()["error"]
        assert error["type"] == "api_error" and error["code"] == "server_busy"
        assert error["message"].startswith("the server is busy: 1 answer(s) running and 1 waiting")
        assert not queued  # still waiting for its turn
        generator.repeat = 1
        running.close()  # the queued request gets the turn and is answered
        waiting.join(15)
    assert queued and "quadratically" in (queued[0].choices[0].message.content or "")


def test_the_sdk_retries_a_busy_server_after_retry_after(pipeline: Pipeline, generator: SlowGenerator) -> None:
    limits = ServerConfig(max_concurrent_generations=1, max_queued_generations=0, retry_after_s=1)
    with ThreadedServer(create_app(pipeline, limits=limits)) as running:
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="none", max_retries=3, timeout=60)
        busy = client.chat.completions.create(model="unit", messages=QUESTION, stream=True)
        next(busy)
        threading.Timer(0.5, busy.close).start()
        generator.repeat = 1
        started = time.monotonic()
        completion = client.chat.completions.create(model="unit", messages=QUESTION)  # 503 first, then a retry
        waited = time.monotonic() - started
    assert "quadratically" in (completion.choices[0].message.content or "")
    assert waited >= 0.9  # it waited the Retry-After second, not the SDK's own sub-second backoff
