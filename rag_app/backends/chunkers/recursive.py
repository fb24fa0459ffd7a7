"""Recursive chunker: LangChain's RecursiveCharacterTextSplitter sized in model tokens."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict

from rag_app.backends.chunkers._anchor import TextAnchor
from rag_app.backends.chunkers._bounds import BoundedCounter, splitter_text
from rag_app.backends.chunkers._common import (
    ChunkParams,
    Span,
    fingerprint,
    make_chunks,
    recursive_splitter,
)
from rag_app.protocols import TokenCounter
from rag_app.types import Chunk, Document


class RecursiveChunker:
    """Splits on paragraphs, then lines, then spaces, until pieces fit ``chunk_size`` tokens.

    A chunk exceeds ``chunk_size`` only where the tokenizer counts a joined
    piece as more tokens than its parts (never with whole-word tokenizers).
    ``section`` is set from the nearest Markdown heading path (levels 1-3).
    """

    class Params(ChunkParams):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, *, tokenizer: TokenCounter, **_: object) -> None:
        self.params = params
        self._tokenizer = tokenizer

    def params_fingerprint(self) -> dict[str, object]:
        return fingerprint("recursive", self.params)

    def split(self, documents: Sequence[Document]) -> list[Chunk]:
        splitter = recursive_splitter(self.params, self._tokenizer)
        overlap = (self.params.chunk_overlap, BoundedCounter(self._tokenizer).count)

        def spans_of(doc: Document) -> list[Span]:
            text = splitter_text(doc.text, self.params.chunk_size)
            offsets = TextAnchor(doc.text).locate(
                splitter.split_text(text), doc.source, overlap=overlap, split_text=text
            )
            return [Span(start, end) for start, end in offsets]

        return make_chunks(documents, spans_of)
