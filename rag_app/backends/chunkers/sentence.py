"""Sentence chunker: LlamaIndex's SentenceSplitter sized in model tokens."""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.node_parser import SentenceSplitter
from pydantic import ConfigDict, Field

from rag_app.backends.chunkers._anchor import TextAnchor
from rag_app.backends.chunkers._bounds import bounded_spans, splitter_text
from rag_app.backends.chunkers._common import ChunkParams, Span, fingerprint, make_chunks
from rag_app.protocols import TokenCounter
from rag_app.types import Chunk, Document


class SentenceChunker:
    """Packs whole sentences (NLTK Punkt, bundled with LlamaIndex) into chunks of ``chunk_size`` tokens.

    Paragraphs are kept together where they fit; a sentence longer than
    ``chunk_size`` is cut at commas, then spaces. Overlap is made of whole
    sentences, so it can be less than ``chunk_overlap``. ``section`` is set from
    the nearest Markdown heading path (levels 1-3).
    """

    class Params(ChunkParams):
        model_config = ConfigDict(extra="forbid")

        # LlamaIndex's default is "\n\n\n"; our loaders separate blocks with one blank line.
        paragraph_separator: str = Field(default="\n\n", min_length=1)

    def __init__(self, params: Params, *, tokenizer: TokenCounter, **_: object) -> None:
        self.params = params
        self._tokenizer = tokenizer
        self._splitter: SentenceSplitter | None = None

    def params_fingerprint(self) -> dict[str, object]:
        return fingerprint("sentence", self.params)

    def split(self, documents: Sequence[Document]) -> list[Chunk]:
        splitter = self._get_splitter()
        overlap = (self.params.chunk_overlap, lambda text: len(self._tokens(text)))

        def spans_of(doc: Document) -> list[Span]:
            if not doc.text.strip():
                return []
            # LlamaIndex cuts an over-long sentence at spaces, not lines: break runs with spaces.
            text = splitter_text(doc.text, self.params.chunk_size, wrap=False, separator=" ")
            offsets = TextAnchor(doc.text).locate(splitter.split_text(text), doc.source, overlap=overlap)
            return [Span(start, end) for start, end in offsets]

        return make_chunks(documents, spans_of)

    def _get_splitter(self) -> SentenceSplitter:
        if self._splitter is None:
            self._splitter = SentenceSplitter(
                chunk_size=self.params.chunk_size,
                chunk_overlap=self.params.chunk_overlap,
                paragraph_separator=self.params.paragraph_separator,
                tokenizer=self._tokens,
            )
        return self._splitter

    def _tokens(self, text: str) -> list[str]:
        """LlamaIndex measures a text as ``len(tokenizer(text))`` (no token over 32 characters)."""
        return [text[a:b] for a, b in bounded_spans(self._tokenizer.spans(text))]
