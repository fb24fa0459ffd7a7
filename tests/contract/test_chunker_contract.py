"""The Chunker contract: every registered chunker backend must pass all of it.

Chunkers are sized with the hashing embedder's whole-word tokenizer, so token
counts are exact and no model is needed. Every chunk records ``start_char`` and
``end_char``: its text is ``document.text[start_char:end_char]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from rag_app import registry
from rag_app.backends.embedders.hashing import WordTokenizer
from rag_app.protocols import Chunker
from rag_app.types import Chunk, Document

SIZE, OVERLAP = 40, 8
_WORD = re.compile(r"\w+")

MARKDOWN = """# Retrieval

Retrieval-augmented generation answers a question from passages that a retriever found in a
collection of documents. The passages are numbered in the prompt and the model cites them.

## Dense retrieval

A dense retriever embeds the query and every chunk into vectors. The nearest chunks by cosine
similarity are returned. Dense vectors capture paraphrases well, but rare identifiers and exact
product codes are often missed by them.

## Sparse retrieval

BM25 ranks chunks by term frequency, inverse document frequency and length normalisation. It finds
exact words reliably. Hybrid search fuses both lists with reciprocal rank fusion, which only needs
the ranks and not the raw scores.

### Fusion details

Reciprocal rank fusion adds one over k plus the rank for every list a chunk appears in. A chunk
found by both retrievers rises to the top. The constant k is usually sixty.
"""
PLAIN = (
    "Tokenizers split text into pieces. Word tokenizers split on spaces and punctuation. "
    "Subword tokenizers such as WordPiece and byte pair encoding split rare words into frequent parts. "
    "A chunker measures its chunks in the same tokens the embedder sees, so no chunk is cut short. "
) * 4


def documents() -> list[Document]:
    """A Markdown file, a plain text, and a two-page PDF-like document sharing one ``doc_id``."""
    return [
        Document("doc-md", "guide.md", MARKDOWN, {"format": "md", "title": "Retrieval"}),
        Document("doc-txt", "notes.txt", PLAIN, {"format": "txt"}),
        Document("doc-pdf", "paper.pdf", PLAIN[:300], {"format": "pdf", "page": 1}),
        Document("doc-pdf", "paper.pdf", MARKDOWN[:400].replace("#", ""), {"format": "pdf", "page": 2}),
    ]


def _builder(name: str) -> Callable[..., Chunker]:
    def build(**params: Any) -> Chunker:
        merged = {"chunk_size": SIZE, "chunk_overlap": OVERLAP, **params}
        chunker: Chunker = registry.create("chunker", name, merged, tokenizer=WordTokenizer())
        return chunker

    return build


def _sentence(**params: Any) -> Chunker:
    pytest.importorskip("llama_index.core", reason="llama-index-core missing: pip install 'rag-app[llamaindex]'")
    return _builder("sentence")(**params)


FACTORIES: dict[str, Callable[..., Chunker]] = {
    "fixed": _builder("fixed"),
    "markdown": _builder("markdown"),
    "recursive": _builder("recursive"),
    "sentence": _sentence,
}


@pytest.fixture(params=registry.names("chunker"))
def make(request: pytest.FixtureRequest) -> Callable[..., Chunker]:
    """A builder of the chunker named by the param (keyword args override its params)."""
    factory = FACTORIES.get(request.param)
    if factory is None:
        pytest.fail(f"chunker {request.param!r} has no factory in {__name__}")
    return factory


def test_every_registered_chunker_has_a_factory() -> None:
    """Registering a chunker without contract coverage fails here."""
    assert sorted(FACTORIES) == registry.names("chunker")


def test_chunk_text_is_the_document_slice_at_its_offsets(make: Callable[..., Chunker]) -> None:
    """Each chunk's text is its document's text at ``[start_char, end_char)``; ids and metadata carry over."""
    chunker = make()
    assert isinstance(chunker, Chunker)
    docs = documents()
    chunks = chunker.split(docs)
    assert chunks
    by_page = {(d.doc_id, d.metadata.get("page")): d for d in docs}
    for c in chunks:
        doc = by_page[(c.doc_id, c.metadata.get("page"))]
        start, end = c.metadata["start_char"], c.metadata["end_char"]
        assert 0 <= start < end <= len(doc.text)
        assert doc.text[start:end] == c.text
        assert c.text.strip()
        assert c.source == doc.source
        assert {k: c.metadata[k] for k in doc.metadata} == doc.metadata


def test_chunk_ids_unique_and_numbered_per_document(make: Callable[..., Chunker]) -> None:
    """Chunk ids are unique; ``chunk_index`` counts 0, 1, ... across all parts of one ``doc_id``."""
    chunks = make().split(documents())
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids))
    per_doc: dict[str, list[int]] = {}
    for c in chunks:
        per_doc.setdefault(c.doc_id, []).append(c.metadata["chunk_index"])
    assert set(per_doc) == {"doc-md", "doc-txt", "doc-pdf"}
    assert all(indexes == list(range(len(indexes))) for indexes in per_doc.values())
    assert [c.chunk_id for c in make().split(documents())] == ids  # stable across runs


def test_chunks_fit_the_size_and_cover_the_text(make: Callable[..., Chunker]) -> None:
    """With a whole-word tokenizer no chunk exceeds ``chunk_size``; together the chunks cover every word."""
    tok = WordTokenizer()
    docs = documents()
    chunks = make().split(docs)
    assert max(tok.count(c.text) for c in chunks) <= SIZE
    assert len([c for c in chunks if c.doc_id == "doc-txt"]) > 1  # the long text is split
    for doc in docs:
        covered = [False] * len(doc.text)
        for c in chunks:
            if c.doc_id == doc.doc_id and c.metadata.get("page") == doc.metadata.get("page"):
                for i in range(c.metadata["start_char"], c.metadata["end_char"]):
                    covered[i] = True
        lost = [m.group() for m in _WORD.finditer(doc.text) if not all(covered[m.start() : m.end()])]
        assert not lost, (doc.source, lost[:10])


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \n"])
def test_blank_document_gives_no_chunks(make: Callable[..., Chunker], text: str) -> None:
    """An empty or whitespace-only document yields no chunks (and does not break the others)."""
    chunker = make()
    assert chunker.split([Document("blank", "blank.md", text)]) == []
    assert chunker.split([]) == []
    mixed = chunker.split([Document("blank", "blank.md", text), Document("doc-txt", "notes.txt", PLAIN)])
    assert mixed and {c.doc_id for c in mixed} == {"doc-txt"}


def test_params_fingerprint(make: Callable[..., Chunker]) -> None:
    """The fingerprint is JSON, equal for equal params and different when ``chunk_size`` differs."""
    first = make().params_fingerprint()
    assert json.loads(json.dumps(first)) == first
    assert make().params_fingerprint() == first
    assert make(chunk_size=SIZE * 2).params_fingerprint() != first
    assert make(chunk_overlap=OVERLAP + 1).params_fingerprint() != first


def test_split_is_deterministic(make: Callable[..., Chunker]) -> None:
    """Splitting the same documents twice gives identical chunks."""
    chunker = make()
    first: list[Chunk] = chunker.split(documents())
    assert chunker.split(documents()) == first
    assert make().split(documents()) == first
