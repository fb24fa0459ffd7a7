"""Plain-text and Markdown loaders (one Document per file, text kept as written)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from rag_app.backends.loaders._common import decode_text, read_bytes, title_from_text
from rag_app.types import Document

# An ATX level-1 heading ("# Title", optional closing hashes). Written by hand:
# only the title is needed here, and a full Markdown parser is not a dependency.
_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


class TextLoader:
    """Loads ``.txt`` files: UTF-8 first, then a detected encoding.

    Metadata: ``format="txt"``; ``title`` is the first non-blank line when it is
    shorter than 100 characters, else the file stem.
    """

    extensions: tuple[str, ...] = (".txt", ".text")
    format = "txt"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, **_: object) -> None:
        self.params = params

    def load(self, path: Path, *, source: str, doc_id: str) -> list[Document]:
        """Read and decode ``path``.

        Raises:
            InputError: unreadable, empty, or not text.
        """
        text = decode_text(read_bytes(path, source), source)
        metadata = {"format": self.format, "title": self.title(text, path)}
        return [Document(doc_id=doc_id, source=source, text=text, metadata=metadata)]

    def title(self, text: str, path: Path) -> str:
        return title_from_text(text, path)


class MarkdownLoader(TextLoader):
    """Loads ``.md`` files unchanged; ``title`` is the first ``# `` heading, else the file stem."""

    extensions: tuple[str, ...] = (".md", ".markdown")
    format = "md"

    def title(self, text: str, path: Path) -> str:
        return markdown_title(text) or path.stem


def markdown_title(text: str) -> str:
    """The text of the first level-1 ATX heading outside code fences ("" if none)."""
    fence = ""
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if opening:
            if not fence:
                fence = opening.group(1)
            elif opening.group(1) == fence:
                fence = ""
            continue
        if not fence:
            match = _H1.match(line)
            if match:
                return match.group(1).strip()
    return ""
