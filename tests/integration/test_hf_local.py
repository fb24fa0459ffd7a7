"""HFLocalGenerator with the real packaged SmolLM2-135M-Instruct (offline, CPU).

The model is loaded once per module. The one-time GGUF -> safetensors
conversion goes to the default cache (~/.cache/rag_app/models) unless
RAG_TEST_MODEL_CACHE points elsewhere, so only the first run pays ~20 s.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rag_app.backends.generators.hf_local import HFLocalGenerator
from rag_app.backends.generators.hf_source import MARKER
from rag_app.generation import build_messages, parse_citations
from rag_app.generation.templates import load_template
from rag_app.types import Chunk, Message, ScoredChunk
from rag_app.weights import DEFAULT_CACHE_DIR
from tests.conftest import CORPUS
from tests.support.models import require_smollm2

require_smollm2()
pytestmark = pytest.mark.slow

QUESTION = [Message("user", "Name three primary colours, one per line.")]


@pytest.fixture(scope="module")
def gen() -> Iterator[HFLocalGenerator]:
    cache = os.environ.get("RAG_TEST_MODEL_CACHE", DEFAULT_CACHE_DIR)
    generator = HFLocalGenerator(HFLocalGenerator.Params(cache_dir=cache, max_new_tokens=48))
    generator.count_tokens("warm up")  # converts (first run only) and loads the tokenizer
    yield generator


def test_conversion_is_cached_as_a_complete_folder(gen: HFLocalGenerator) -> None:
    folder = Path(gen._source().path)
    assert (folder / MARKER).is_file() and (folder / "model.safetensors").is_file()
    assert not list(folder.parent.glob(f".{folder.name}.*.tmp"))  # no half-written leftovers
    started = time.perf_counter()
    fresh = HFLocalGenerator(HFLocalGenerator.Params(cache_dir=str(folder.parent)))
    fresh._load()
    assert time.perf_counter() - started < 15  # vs ~16-35 s dequantising the GGUF


def test_generate_and_stream_agree_under_greedy(gen: HFLocalGenerator) -> None:
    result = gen.generate(QUESTION, max_tokens=24)
    assert result.text.strip() and result.prompt_tokens > 10 and 0 < result.completion_tokens <= 24
    pieces = list(gen.stream(QUESTION, max_tokens=24))
    assert len(pieces) > 1
    assert "".join(pieces) == result.text


def test_max_new_tokens_respected(gen: HFLocalGenerator) -> None:
    result = gen.generate([Message("user", "Write a long story about a dragon.")], max_tokens=12)
    assert result.completion_tokens == 12 and result.finish_reason == "length"
    assert gen.count_tokens(result.text) <= 13  # re-tokenising decoded text may merge/split by one


def test_stop_sequence_in_both_modes(gen: HFLocalGenerator) -> None:
    full = gen.generate(QUESTION, max_tokens=24)
    stop = full.text.split()[2]  # a word the model is known to produce (greedy is deterministic)
    expected = full.text[: full.text.index(stop)]
    stopped = gen.generate(QUESTION, max_tokens=24, stop=[stop])
    assert stopped.text == expected and stopped.finish_reason == "stop"
    assert stopped.completion_tokens < full.completion_tokens  # generation halted, not just the text cut
    assert "".join(gen.stream(QUESTION, max_tokens=24, stop=[stop])) == expected


def test_stream_abandoned_early_ends_the_worker(gen: HFLocalGenerator) -> None:
    stream: Any = gen.stream([Message("user", "Count from 1 to 200.")], max_tokens=200)
    next(stream)
    stream.close()
    deadline = time.monotonic() + 10
    while any(t.name == "hf-local-generate" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "generation thread kept running after the consumer left"
        time.sleep(0.05)
    assert gen.generate(QUESTION, max_tokens=4).completion_tokens == 4  # the lock was released


def test_answers_from_a_corpus_chunk_with_citation(gen: HFLocalGenerator) -> None:
    """Pinned to greedy SmolLM2-135M output: the model cites by imitating the source layout and is
    sensitive to it (without the section line it starts an invented "[2] ..." source instead)."""
    text = (CORPUS / "rag" / "what-is-rag.md").read_text(encoding="utf-8").split("\n\n")[1]
    meta = {"relpath": "rag/what-is-rag.md", "section": "Retrieval-Augmented Generation (RAG)"}
    hit = ScoredChunk(Chunk("rag:0", "rag", "rag/what-is-rag.md", text, meta), 0.9)
    shipped = load_template("grounded")
    # The layout and instruction this output is pinned to (the shipped prompt is tuned for the 1.5B default).
    user = shipped.user.replace(
        "Answer every part of the question in one to three sentences with facts from the sources, and put",
        "Answer in one or two sentences with facts from the sources and put",
    )
    assert user != shipped.user
    layout = replace(shipped, user=user, source="[{number}] {location}\n{text}")
    messages, used = build_messages(
        "Who introduced the term retrieval-augmented generation?",
        [hit],
        template=layout,
        count_tokens=gen.count_tokens,
        context_budget_tokens=1000,
    )
    answer = gen.generate(messages, max_tokens=64).text
    clean, citations, invalid = parse_citations(answer, used)
    assert "Lewis" in clean
    assert [c.number for c in citations] == [1], answer
    assert invalid == []
