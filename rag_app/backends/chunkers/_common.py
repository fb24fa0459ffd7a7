"""Shared chunker logic: params, offsets, Markdown sections, numbering and metadata.

Every chunker turns a Document into character spans; :func:`make_chunks` turns
spans into Chunks the same way for all of them, so ids, offsets and metadata
never differ between chunker types.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag_app.backends.chunkers._anchor import TextAnchor, squeeze
from rag_app.backends.chunkers._bounds import BoundedCounter
from rag_app.ids import chunk_id_for
from rag_app.protocols import TokenCounter
from rag_app.types import Chunk, Document

if TYPE_CHECKING:  # imported when a chunker first splits: `rag stats` / `rag search` never pay for LangChain
    from langchain_text_splitters import RecursiveCharacterTextSplitter

logger = logging.getLogger(__name__)

#: Heading levels that name a chunk's ``section`` unless a chunker says otherwise.
DEFAULT_SECTION_LEVELS = (1, 2, 3)


class ChunkParams(BaseModel):
    """Sizes shared by every chunker, in tokens of the pipeline's tokenizer."""

    model_config = ConfigDict(extra="forbid")

    chunk_size: int = Field(default=200, gt=0, description="Most tokens in one chunk.")
    chunk_overlap: int = Field(default=30, ge=0, description="Tokens shared by neighbouring chunks.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size}); lower chunk_overlap or raise chunk_size"
            )
        return self


@dataclass(frozen=True)
class Span:
    """A chunk's ``[start, end)`` in its Document's text; ``section=None``: derive it."""

    start: int
    end: int
    section: str | None = None


def recursive_splitter(params: ChunkParams, tokenizer: TokenCounter) -> RecursiveCharacterTextSplitter:
    """LangChain's recursive splitter measuring length in ``tokenizer``'s tokens.

    ``add_start_index`` is deliberately off: LangChain finds each chunk by
    searching from ``previous end - chunk_overlap`` *characters*, which is wrong
    when the overlap is counted in tokens (it can land on a later repeat of the
    same text, or return -1). :class:`TextAnchor` finds the offsets instead.
    Lengths are measured with :class:`BoundedCounter` (no token over 32 characters).
    """
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=params.chunk_size,
        chunk_overlap=params.chunk_overlap,
        length_function=BoundedCounter(tokenizer).count,
    )




@dataclass(frozen=True)
class Section:
    """A Markdown section: ``[start, end)`` in the text and its heading path."""

    start: int
    end: int
    path: str


def markdown_sections(
    text: str, anchor: TextAnchor, source: str, levels: Sequence[int] = DEFAULT_SECTION_LEVELS
) -> list[Section]:
    """Sections of ``text`` as MarkdownHeaderTextSplitter sees them, with exact offsets.

    ``path`` is the heading path ``"H1 > H2 > H3"`` (only ``levels``), "" before any heading.
    """
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    names = {level: f"h{level}" for level in sorted(set(levels))}
    splitter = MarkdownHeaderTextSplitter([("#" * level, name) for level, name in names.items()], strip_headers=False)
    parts = splitter.split_text(text)
    offsets = anchor.locate((p.page_content for p in parts), source)
    parts = [p for p in parts if squeeze(p.page_content)]
    sections = []
    for part, (start, end) in zip(parts, offsets, strict=True):
        headings = [str(part.metadata[n]).strip() for n in names.values() if part.metadata.get(n)]
        sections.append(Section(start, end, " > ".join(h for h in headings if h)))
    return sections


def section_at(sections: Sequence[Section], position: int) -> str:
    """Heading path of the section containing (or last starting before) ``position``."""
    i = bisect.bisect_right([s.start for s in sections], position) - 1
    return sections[i].path if i >= 0 else ""


def make_chunks(documents: Sequence[Document], spans_of: Callable[[Document], Iterable[Span]]) -> list[Chunk]:
    """Chunks for ``documents`` from the spans ``spans_of`` gives for each.

    Chunks are numbered consecutively across all documents sharing a
    ``doc_id`` (e.g. the pages of one PDF), in input order. Blank spans are
    dropped. Metadata is the document's plus ``start_char``, ``end_char``,
    ``chunk_index`` and, when known, ``section`` (the Markdown heading path).
    """
    counters: dict[str, int] = {}
    chunks: list[Chunk] = []
    for doc in documents:
        sections: list[Section] | None = None
        for span in spans_of(doc):
            text = doc.text[span.start : span.end]
            if not text.strip():
                continue
            section = span.section
            if section is None:
                if sections is None:
                    sections = markdown_sections(doc.text, TextAnchor(doc.text), doc.source)
                section = section_at(sections, span.start)
            n = counters.get(doc.doc_id, 0)
            counters[doc.doc_id] = n + 1
            metadata = {**doc.metadata, "start_char": span.start, "end_char": span.end, "chunk_index": n}
            if section:
                metadata["section"] = section
            chunks.append(Chunk(chunk_id_for(doc.doc_id, n), doc.doc_id, doc.source, text, metadata))
    logger.debug("split %d documents into %d chunks", len(documents), len(chunks))
    return chunks


def fingerprint(type_name: str, params: BaseModel) -> dict[str, object]:
    """``{"type": ..., **params}``: everything that changes a chunker's output."""
    return {"type": type_name, **params.model_dump()}
