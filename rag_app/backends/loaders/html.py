"""HTML loader: BeautifulSoup + lxml, page chrome removed, structure as Markdown.

Headings ``h1``..``h6`` become ``#``..``######`` lines and paragraphs, list
items, table rows and ``pre`` blocks become text blocks separated by blank
lines, so the Markdown-aware chunker sees the same structure for every format.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import CData, NavigableString, Tag
from pydantic import BaseModel, ConfigDict

from rag_app.backends.loaders._common import looks_binary, no_text, read_bytes
from rag_app.errors import InputError
from rag_app.types import Document

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BOILERPLATE = ("script", "style", "nav", "header", "footer", "noscript", "template")
# Elements that start a new text block (the rest are inline and join the current one).
# fmt: off
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "hr", "html",
        "legend", "li", "main", "menu", "ol", "p", "section", "summary", "table", "tbody", "tfoot",
        "thead", "ul",
    }
)
# fmt: on
_WS = re.compile(r"\s+")


class HtmlLoader:
    """Loads ``.html`` files (encoding from BOM / ``<meta charset>`` / detection).

    Metadata: ``format="html"``; ``title`` is ``<title>``, else the first ``h1``,
    else the file stem.
    """

    extensions: tuple[str, ...] = (".html", ".htm")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, **_: object) -> None:
        self.params = params

    def load(self, path: Path, *, source: str, doc_id: str) -> list[Document]:
        """Parse ``path`` and return its main text as one Markdown-structured Document.

        Raises:
            InputError: unreadable, empty, binary, or no text outside the page chrome.
        """
        data = read_bytes(path, source)
        if not data.strip():
            raise no_text(source)
        soup = BeautifulSoup(data, "lxml")
        _strip_boilerplate(soup)
        text = html_to_markdown(soup)
        if looks_binary(text):
            raise InputError(f"{source}: not an HTML/text file (binary content); exclude it")
        if not text.strip():
            raise no_text(source)
        metadata = {"format": "html", "title": _title(soup) or path.stem}
        return [Document(doc_id=doc_id, source=source, text=text, metadata=metadata)]


def _strip_boilerplate(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_BOILERPLATE):
        if tag.decomposed:  # inside an element removed earlier in this loop
            continue
        # <header>/<footer> inside <article>/<main> belong to the content (e.g. the
        # article's own h1); only the page-level ones are site chrome.
        if tag.name in ("header", "footer") and tag.find_parent(["article", "main"]) is not None:
            continue
        tag.decompose()


def _title(soup: BeautifulSoup) -> str:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None:
            text = _squash(tag.get_text(" "))
            if text:
                return text
    return ""


def html_to_markdown(soup: BeautifulSoup) -> str:
    """The text of ``soup`` as Markdown-style blocks separated by blank lines.

    Written by hand because no HTML-to-Markdown converter is among our
    dependencies; BeautifulSoup does the parsing, this only walks the tree.
    """
    blocks: list[str] = []
    line: list[str] = []
    root = soup.body or soup
    _walk(root, blocks, line)
    _flush(blocks, line)
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _walk(node: Tag, blocks: list[str], line: list[str]) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            # Comments, doctypes and processing instructions are subclasses: skip them.
            if type(child) in (NavigableString, CData):
                line.append(_WS.sub(" ", str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _HEADINGS or name in ("tr", "pre"):
            _flush(blocks, line)
            block = _special_block(child)
            if block:
                blocks.append(block)
        elif name == "br":
            line.append("\n")
        elif name in _BLOCKS:
            _flush(blocks, line)
            _walk(child, blocks, line)
            _flush(blocks, line)
        else:
            _walk(child, blocks, line)  # inline element: its text joins the current block


def _special_block(tag: Tag) -> str:
    if tag.name in _HEADINGS:
        text = _squash(tag.get_text(" "))
        return f"{'#' * _HEADINGS[tag.name]} {text}" if text else ""
    if tag.name == "tr":
        cells = [_squash(c.get_text(" ")) for c in tag.find_all(["td", "th"], recursive=False)]
        return " | ".join(cells) if any(cells) else ""
    text = tag.get_text().strip("\n")  # <pre>: whitespace is significant
    return text if text.strip() else ""


def _flush(blocks: list[str], line: list[str]) -> None:
    """Close the current text block (``line`` holds its pieces; ``"\\n"`` marks a ``<br>``)."""
    if not line:
        return
    rows = [_squash(part) for part in "".join(line).split("\n")]
    line.clear()
    text = "\n".join(r for r in rows if r)
    if text:
        blocks.append(text)


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()
