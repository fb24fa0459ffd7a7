"""DOCX loader: python-docx body text with headings and tables as Markdown."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pydantic import BaseModel, ConfigDict

from rag_app.backends.loaders._common import no_text, read_bytes, require_text
from rag_app.errors import InputError, one_line
from rag_app.types import Document

_HEADING_STYLE = re.compile(r"Heading ([1-9])")


class DocxLoader:
    """Loads ``.docx`` files: body paragraphs and tables in document order.

    Paragraphs styled "Title" become ``#`` lines and "Heading N" become ``N``
    hashes, or ``N+1`` when the document has a Title paragraph (at most six);
    each table row becomes one ``" | "``-joined line.
    Page headers, footers and comments are left out. Metadata: ``format="docx"``;
    ``title`` is ``core_properties.title``, else the first Title/Heading
    paragraph, else the file stem.
    """

    extensions: tuple[str, ...] = (".docx",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, **_: object) -> None:
        self.params = params

    def load(self, path: Path, *, source: str, doc_id: str) -> list[Document]:
        """Read ``path`` as one Document.

        Raises:
            InputError: unreadable, not a valid DOCX package, or without text.
        """
        data = read_bytes(path, source)
        if not data.strip():
            raise no_text(source)
        try:
            document = docx.Document(io.BytesIO(data))
            blocks, first_heading = _blocks(document.iter_inner_content())
            core_title = (document.core_properties.title or "").strip()
        except Exception as exc:  # zipfile, lxml and python-docx each raise their own types
            raise InputError(
                f"{source}: not a readable DOCX ({one_line(exc)}); re-save it as .docx or exclude it"
            ) from exc
        text = require_text("\n\n".join(blocks) + "\n" if blocks else "", source)
        metadata = {"format": "docx", "title": core_title or first_heading or path.stem}
        return [Document(doc_id=doc_id, source=source, text=text, metadata=metadata)]


def heading_level(paragraph: Paragraph) -> int:
    """0 for "Title", N for "Heading N", -1 for any other style."""
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 0
    match = _HEADING_STYLE.fullmatch(name)
    return int(match.group(1)) if match else -1


def _blocks(items: Iterable[Paragraph | Table]) -> tuple[list[str], str]:
    """Markdown-ish text blocks of the body, and the text of its first heading.

    A "Title" paragraph becomes ``#``. When the document has one, "Heading N"
    becomes N+1 hashes (its sections sit under the title, as ``##`` sections sit
    under the ``#`` title of a Markdown or HTML page); otherwise N hashes.
    """
    parts: list[tuple[int, str]] = []  # (heading level or -1, text)
    for item in items:
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if text:
                parts.append((heading_level(item), text))
        elif isinstance(item, Table):
            parts.extend((-1, row) for row in _table_rows(item))
    shift = 1 if any(level == 0 for level, _ in parts) else 0
    blocks: list[str] = []
    first_heading = ""
    for level, text in parts:
        if level >= 0:
            first_heading = first_heading or text
            text = f"{'#' * min(level + shift, 6)} {' '.join(text.split())}"
        blocks.append(text)
    return blocks, first_heading


def _table_rows(table: Table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans: keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
