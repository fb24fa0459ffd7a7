"""Markdown chunker: split at headings first, then recursively inside each section."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict, Field, field_validator

from rag_app.backends.chunkers._anchor import TextAnchor
from rag_app.backends.chunkers._bounds import BoundedCounter, splitter_text
from rag_app.backends.chunkers._common import (
    ChunkParams,
    Span,
    fingerprint,
    make_chunks,
    markdown_sections,
    recursive_splitter,
)
from rag_app.protocols import TokenCounter
from rag_app.types import Chunk, Document


class MarkdownChunker:
    """Sections from LangChain's MarkdownHeaderTextSplitter, each split by the recursive splitter.

    No chunk spans two sections. Every chunk carries ``section``, the heading
    path ``"H1 > H2 > H3"`` of the levels in ``headers_to_split_on`` (absent for
    text before the first heading). Loaders turn HTML/DOCX headings into
    Markdown, so this works for every format except PDF (no headings there).
    """

    class Params(ChunkParams):
        model_config = ConfigDict(extra="forbid")

        headers_to_split_on: list[int] = Field(
            default=[1, 2, 3], min_length=1, description="Heading levels (1-6) that start a section."
        )

        @field_validator("headers_to_split_on")
        @classmethod
        def _levels(cls, levels: list[int]) -> list[int]:
            bad = [level for level in levels if not 1 <= level <= 6]
            if bad:
                raise ValueError(f"heading levels must be 1 to 6, got {bad}")
            return sorted(set(levels))

    def __init__(self, params: Params, *, tokenizer: TokenCounter, **_: object) -> None:
        self.params = params
        self._tokenizer = tokenizer

    def params_fingerprint(self) -> dict[str, object]:
        return fingerprint("markdown", self.params)

    def split(self, documents: Sequence[Document]) -> list[Chunk]:
        splitter = recursive_splitter(self.params, self._tokenizer)
        levels = self.params.headers_to_split_on
        overlap = (self.params.chunk_overlap, BoundedCounter(self._tokenizer).count)

        def spans_of(doc: Document) -> list[Span]:
            anchor = TextAnchor(doc.text)
            spans: list[Span] = []
            for section in markdown_sections(doc.text, anchor, doc.source, levels):
                # Split the original section text, not the splitter's copy: that one
                # has lost its blank lines, so paragraphs could no longer be told apart.
                text = splitter_text(doc.text[section.start : section.end], self.params.chunk_size)
                pieces = splitter.split_text(text)
                located = anchor.locate(pieces, doc.source, section.start, overlap=overlap, split_text=text)
                for start, end in located:
                    spans.append(Span(start, end, section.path))
            return spans

        return make_chunks(documents, spans_of)
