"""`rag eval generate`: chunk sampling, question filters, the written dataset, and one-line errors.

The generator is the `openai` backend talking to the local OpenAI-protocol stub over loopback HTTP;
the stub answers each prompt from a script keyed by words of the chunk in it, so every run sees
the same replies whatever order the chunks are sampled in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli.eval import app
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError, InputError
from rag_app.evaluation.datasets import load_dataset
from rag_app.evaluation.suite import parse_suite
from rag_app.evaluation.synthetic import (
    FILTERS,
    GenerateOptions,
    check_question,
    clean_question,
    copied_span,
    doc_key,
    generate_synthetic,
    load_question_template,
    sample_chunks,
    unusable,
)
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Chunk
from tests.conftest import fast_config_dict
from tests.support.openai_stub import OpenAIStub, StubBehaviour

runner = CliRunner()

DOCS = {
    "attention.md": "# Attention\n\n"
    "Self-attention compares every token with every other token in the sequence, so its memory and compute "
    "cost grow quadratically with the sequence length. Long documents therefore need sparse patterns, "
    "sliding windows or kernel tricks to stay affordable on ordinary accelerators with limited memory.\n\n"
    "Multi-head attention splits the model dimension into several heads that attend in parallel. Each head "
    "learns its own query, key and value projections, and their outputs are concatenated and projected again "
    "so that different heads can specialise in syntax, position or long-range reference.\n",
    "lora.md": "# LoRA\n\n"
    "LoRA freezes the pretrained weights and learns a low-rank update made of two small matrices for each "
    "adapted layer. Because only those matrices receive gradients, fine-tuning needs far less optimiser "
    "memory, and several adapters can share one frozen base model at serving time without copies.\n\n"
    "The rank of the update is a hyperparameter: ranks between four and sixty-four are common. A scaling "
    "factor alpha divides by the rank, and after training the update can be merged into the base weights so "
    "inference runs exactly as fast as the original network did before adaptation.\n",
    "notes/bm25.txt": "BM25 ranks documents by term frequency, inverse document frequency and document length "
    "normalisation. The parameter k1 controls how quickly repeated terms saturate, while b decides how strongly "
    "long documents are penalised compared with short ones in the same collection of texts.\n\n"
    "Inverted indexes make BM25 fast: each term points to a posting list of the documents containing it. "
    "Query evaluation walks these posting lists, and pruning methods such as WAND or block-max skip documents "
    "that cannot reach the current top scores, which keeps latency low on large corpora.\n",
    "quantization.md": "# Quantization\n\n"
    "Quantization stores weights with fewer bits, for example eight-bit integers instead of sixteen-bit "
    "floats. Post-training quantization calibrates scales on a small sample of activations, while "
    "quantization-aware training simulates rounding during training so the network learns to tolerate it.\n\n"
    "Four-bit formats such as NF4 group weights into blocks that share one scale. Outlier channels are the "
    "main difficulty: a few very large activations stretch the range, so methods keep them in higher "
    "precision or rotate the weights before rounding to spread the outliers evenly.\n",
    "tokenizers.md": "# Tokenizers\n\n"
    "Byte-pair encoding starts from single bytes and repeatedly merges the most frequent adjacent pair into a "
    "new symbol until the vocabulary reaches its target size. Frequent words become single tokens while rare "
    "words are spelled out from smaller pieces, so no input is ever out of vocabulary.\n\n"
    "SentencePiece treats the input as a raw stream including spaces, which it marks with a special "
    "underscore character. That makes tokenisation reversible for languages without whitespace, and the "
    "unigram model variant prunes a large seed vocabulary by likelihood instead of merging pairs.\n",
    "index.md": "# Index\n\n## Contents\n\n- [Attention](attention.md)\n- [LoRA](lora.md)\n",
    "glossary.md": "| term | meaning |\n|---|---|\n"
    + "".join(f"| t{i} | m{i} |\n" for i in range(12)),
}

# Chunk keyword -> reply. One case per filter; the rest are good questions.
SCRIPT = {
    "Self-attention compares": "Why does the cost of self-attention grow quadratically with sequence length?",
    "Multi-head attention": "Does each head learns its own query, key and value projections?",  # copied_span
    "LoRA freezes": "How does LoRA reduce optimiser memory during fine-tuning?",
    "The rank of the update": "According to the passage, which ranks are common for a LoRA update?",
    "BM25 ranks": "What does the k1 parameter control in BM25 scoring?",
    "Inverted indexes": "How do outlier channels affect four-bit quantization scales?",  # not_retrieved
    "Quantization stores": "Explain how post-training quantization calibrates scales.",  # no_question_mark
    "Four-bit formats": "Question: **Why are outlier channels hard for NF4 quantization?** They stretch it.",
    "Byte-pair encoding": "How does byte-pair encoding grow its vocabulary?",
    "SentencePiece treats": "How does byte-pair encoding grow its vocabulary?",  # duplicate (of either)
}
KEPT = {
    "Why does the cost of self-attention grow quadratically with sequence length?": "attention.md",
    "How does LoRA reduce optimiser memory during fine-tuning?": "lora.md",
    "What does the k1 parameter control in BM25 scoring?": "notes/bm25.txt",
    "Why are outlier channels hard for NF4 quantization?": "quantization.md",
    "How does byte-pair encoding grow its vocabulary?": "tokenizers.md",
}


class ScriptedReplies(StubBehaviour):
    """Replies to each chat request with the script entry whose key is in its prompt ('' if none)."""

    def __init__(self, stub: OpenAIStub, script: dict[str, str]) -> None:
        super().__init__()
        self._stub, self._script = stub, script

    @property  # the stub reads `reply` once per request, after recording the request
    def reply(self) -> str:
        prompt = str(self._stub.requests[-1]["body"]["messages"][-1]["content"])
        return next((reply for key, reply in self._script.items() if key in prompt), "")

    @reply.setter
    def reply(self, value: str) -> None:  # the dataclass __init__ sets a default; the script wins
        pass


def write_corpus(root: Path, docs: dict[str, str]) -> Path:
    for rel, text in docs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def scripted(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The stub answering from SCRIPT, and the `openai` generator block pointed at it."""
    stub.reset()
    stub.behaviour = ScriptedReplies(stub, SCRIPT)
    monkeypatch.setenv("RAG_TEST_STUB_KEY", stub.api_key)
    params = {"model": "stub-chat", "base_url": stub.base_url, "api_key_env": "RAG_TEST_STUB_KEY", "max_retries": 0}
    return {"type": "openai", "params": params}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", DOCS)


@pytest.fixture
def pipeline(make_config: Callable[..., PipelineConfig], scripted: dict[str, Any], corpus: Path) -> Pipeline:
    p = build_pipeline(make_config(generator=scripted, retrieval={"top_k": 2}))
    p.ingest([corpus])
    return p


def chunk(doc: str, n: int, text: str = "word " * 50) -> Chunk:
    return Chunk(f"{doc}:{n}", doc, f"/c/{doc}.md", text, {"relpath": f"{doc}.md"})


# ---- sampling ---------------------------------------------------------------------------


def test_sampling_is_seeded_spread_and_capped_per_document() -> None:
    chunks = [chunk(f"d{d}", n) for d in range(6) for n in range(5)]
    first = sample_chunks(chunks, seed=0, per_document=2)
    assert first == sample_chunks(list(reversed(chunks)), seed=0, per_document=2)  # export order does not matter
    assert [c.chunk_id for c in first] != [c.chunk_id for c in sample_chunks(chunks, seed=1, per_document=2)]
    assert len(first) == 12
    assert len({c.doc_id for c in first[:6]}) == 6  # one chunk of every document before any second one
    assert all(sum(c.doc_id == d for c in first) == 2 for d in {c.doc_id for c in chunks})
    assert len(sample_chunks(chunks, seed=0, per_document=9)) == 30


def test_corpus_id_is_relpath_else_doc_id() -> None:
    assert doc_key(chunk("a", 0)) == "a.md"
    assert doc_key(Chunk("x:0", "x", "beir:x", "text")) == "x"


@pytest.mark.parametrize(
    ("text", "tokens", "shared", "reason"),
    [
        ("A normal paragraph of prose with enough words to ask about. " * 5, 60, False, None),
        ("tiny chunk", 3, False, "too_short"),
        ("# Title\n## Part one\n## Part two\n### Details\n- [link](a.md)\n" * 5, 60, False, "boilerplate"),
        ("| a | b |\n|---|---|\n" + "| 1 2 3 4 5 | 6 7 8 9 |\n" * 10, 60, False, "boilerplate"),
        ("Copyright 2024 Example Corp. All rights reserved worldwide, do not copy. " * 3, 60, True, "boilerplate"),
    ],
)
def test_unusable_chunks(text: str, tokens: int, shared: bool, reason: str | None) -> None:
    from rag_app.evaluation.synthetic import normalise

    c = chunk("d", 0, text)
    assert unusable(c, tokens, 40, {normalise(text)} if shared else set()) == reason


# ---- question filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  What is LoRA?  ", "What is LoRA?"),
        ("Question: **What is LoRA?**\nIt is an adapter.", "What is LoRA?"),
        ('1. "Why does BM25 saturate term frequency?" Because k1.', "Why does BM25 saturate term frequency?"),
        ("\n\nQ: How   does    RoPE encode position？", "How does RoPE encode position?"),
        ("Explain LoRA.", "Explain LoRA."),
        ("", ""),
    ],
)
def test_clean_question(raw: str, clean: str) -> None:
    assert clean_question(raw) == clean


PASSAGE = "LoRA freezes the pretrained weights and learns a low-rank update made of two small matrices per layer."


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("How does LoRA keep base weights unchanged?", None),
        ("", "empty"),
        ("LoRA?", "too_short"),
        ("Why " + "really " * 40 + "?", "too_long"),
        ("Describe how LoRA keeps the base weights", "no_question_mark"),
        ("What does the passage say about LoRA?", "refers_to_passage"),
        ("According to this text, what is frozen?", "refers_to_passage"),
        ("What is the purpose of LoRA in the document?", "refers_to_passage"),
        ("What is kept in the document store by LoRA?", None),
        ("Why does it learn a low-rank update made of two small matrices?", "copied_span"),  # 8 words verbatim
        ("Why does it learn a low-rank update made of two?", None),  # 7 consecutive words are fine
        ("how does lora keep base-weights unchanged?", "duplicate"),
    ],
)
def test_question_filters(question: str, reason: str | None) -> None:
    seen = {"how does lora keep base weights unchanged"} if reason == "duplicate" else set()
    assert check_question(question, PASSAGE, seen, GenerateOptions()) == reason


def test_copied_span_ignores_case_and_punctuation() -> None:
    assert copied_span("LEARNS a LOW-RANK update, made of two?", PASSAGE, 8)
    assert not copied_span("learns a low-rank update", PASSAGE, 8)


def test_question_template(tmp_path: Path) -> None:
    system, user = load_question_template()
    assert "{passage}" in user and "one question" in system
    bad = tmp_path / "bad.txt"
    bad.write_text("[user]\nAnswer {question} about {passage}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="found fields: passage, question"):
        load_question_template(bad)
    bad.write_text("hello\n[user]\n{passage}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sections"):
        load_question_template(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_question_template(tmp_path / "missing.txt")


# ---- end to end over the stub ------------------------------------------------------------


def test_generate_writes_a_dataset_a_files_suite_loads(pipeline: Pipeline, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    lines: list[str] = []
    opts = GenerateOptions(n=50, seed=3)
    record = generate_synthetic(pipeline, out, opts, command="rag eval generate", progress=lines.append)
    counts = record["counts"]
    assert counts["skipped_chunks"] == {"too_short": 1, "boilerplate": 1}  # index.md, glossary.md
    assert counts["candidates"] == counts["generated"] == 10 and counts["kept"] == 5
    one_each = ("copied_span", "refers_to_passage", "not_retrieved", "no_question_mark", "duplicate")
    assert counts["dropped"] == {f: int(f in one_each) for f in FILTERS}
    assert record["stopped"] == "no candidates left" and record["generator"] == "openai:stub-chat"
    assert record["corpus_roots"] == [str(corpus.resolve())] and record["retrieval_top_k"] == 2
    assert any("dropped (copied_span)" in x for x in lines) and lines[0].startswith("12 chunks, 10 usable")

    rows = [json.loads(x) for x in (out / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["text"]: r["metadata"]["source"] for r in rows} == KEPT
    assert [r["_id"] for r in rows] == [f"syn-{i:04d}" for i in range(1, 6)]
    assert all(set(r["metadata"]) == {"chunk_id", "source"} for r in rows)
    qrels = (out / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    assert qrels[0] == "query-id\tcorpus-id\tscore" and len(qrels) == 6
    assert json.loads((out / "generation.json").read_text())["options"]["seed"] == 3
    assert f"corpus: {corpus.resolve()}" in (out / "README.md").read_text(encoding="utf-8")

    spec = {
        "name": "syn",
        "dataset": {"type": "files", "path": str(out), "corpus": str(corpus)},
        "pipelines": [{"label": "unit", "config": "unused.yaml"}],
    }
    suite = parse_suite(spec, base_dir=tmp_path)
    dataset = load_dataset(suite)
    assert set(dataset.queries.values()) == set(KEPT)
    for qid, text in dataset.queries.items():  # the harness maps retrieved chunks to the same ids
        assert set(dataset.qrels[qid]) <= {dataset.doc_key(h) for h in pipeline.search(text, top_k=2)}


def test_generation_is_deterministic_and_respects_n(pipeline: Pipeline, tmp_path: Path) -> None:
    a = generate_synthetic(pipeline, tmp_path / "a", GenerateOptions(n=2, seed=7))
    generate_synthetic(pipeline, tmp_path / "b", GenerateOptions(n=2, seed=7))
    assert (tmp_path / "a" / "queries.jsonl").read_bytes() == (tmp_path / "b" / "queries.jsonl").read_bytes()
    assert a["counts"]["kept"] == 2 and a["stopped"] == "reached n"
    off = generate_synthetic(pipeline, tmp_path / "c", GenerateOptions(n=50, check_retrieval=False))
    assert off["counts"]["dropped"]["not_retrieved"] == 0 and off["counts"]["kept"] == 6
    with pytest.raises(InputError, match="already holds a dataset"):
        generate_synthetic(pipeline, tmp_path / "a", GenerateOptions(n=2, seed=7))


def test_custom_template_reaches_the_generator(pipeline: Pipeline, stub: OpenAIStub, tmp_path: Path) -> None:
    template = tmp_path / "q.txt"
    template.write_text("# mine\n[user]\nFROM {location}: {passage}\nAsk one thing.\n", encoding="utf-8")
    generate_synthetic(pipeline, tmp_path / "o", GenerateOptions(n=1, template=str(template)))
    messages = stub.requests[-1]["body"]["messages"]
    assert len(messages) == 1 and messages[0]["content"].startswith("FROM ")


def test_everything_dropped_is_an_error(pipeline: Pipeline, stub: OpenAIStub, tmp_path: Path) -> None:
    stub.behaviour = ScriptedReplies(stub, {})  # empty replies
    with pytest.raises(InputError, match=r"all 3 generated questions were dropped by the filters \(empty 3\)"):
        generate_synthetic(pipeline, tmp_path / "o", GenerateOptions(n=1))
    assert not (tmp_path / "o").exists()


# ---- errors ------------------------------------------------------------------------------


def test_no_generator_and_empty_collection(
    make_config: Callable[..., PipelineConfig], scripted: dict[str, Any], corpus: Path, tmp_path: Path
) -> None:
    bare = build_pipeline(make_config())
    bare.ingest([corpus])
    with pytest.raises(ConfigError, match="has no generator"):
        generate_synthetic(bare, tmp_path / "o")
    empty = build_pipeline(make_config(generator=scripted, store={"type": "memory", "params": {}}))
    with pytest.raises(InputError, match="nothing has been ingested"):
        generate_synthetic(empty, tmp_path / "o")


@pytest.mark.parametrize(
    ("with_generator", "ingest", "message"),
    [
        (False, True, "error: pipeline 'unit' has no generator to write questions with; add a `generator:` block"),
        (True, False, "error: nothing has been ingested into this memory store yet; run `rag ingest"),
    ],
)
def test_cli_errors_are_one_line_exit_2(
    with_generator: bool, ingest: bool, message: str, scripted: dict[str, Any], corpus: Path, tmp_path: Path
) -> None:
    data = fast_config_dict(tmp_path / "state")
    if with_generator:
        data["generator"] = scripted
    config = tmp_path / "unit.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    if ingest:
        from rag_app.cli import app as rag

        assert runner.invoke(rag, ["ingest", "-c", str(config), str(corpus)]).exit_code == 0
    result = runner.invoke(app, ["generate", "--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
