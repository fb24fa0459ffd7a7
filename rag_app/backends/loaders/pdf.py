"""PDF loader: pypdf text extraction, one Document per page that has text."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from pypdf import PasswordType, PdfReader

from rag_app.backends.loaders._common import no_text, read_bytes, title_from_text
from rag_app.errors import InputError, one_line
from rag_app.types import Document

logger = logging.getLogger(__name__)


class PdfLoader:
    """Loads ``.pdf`` files page by page (no OCR, no heading inference).

    Every page with text becomes a Document sharing the file's ``doc_id``.
    Metadata: ``format="pdf"``, ``page`` (1-based physical page number) and
    ``title`` (the document-info title, else the first line of text when short,
    else the file stem).
    """

    extensions: tuple[str, ...] = (".pdf",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, **_: object) -> None:
        self.params = params

    def load(self, path: Path, *, source: str, doc_id: str) -> list[Document]:
        """Extract the text of every page of ``path``.

        Raises:
            InputError: unreadable, corrupt, encrypted, or without any text layer.
        """
        data = read_bytes(path, source)
        if not data.strip():
            raise no_text(source)
        reader = _open(data, source)
        pages: list[tuple[int, str]] = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text()
            except Exception as exc:  # pypdf raises many types on a malformed page
                raise InputError(
                    f"{source}: page {number} is not readable ({one_line(exc)}); re-export the PDF or exclude it"
                ) from exc
            if text.strip():
                pages.append((number, text))
            else:
                logger.debug("%s: page %d has no text layer", source, number)
        if not pages:
            raise no_text(source)
        title = _info_title(reader) or title_from_text(pages[0][1], path)
        return [Document(doc_id, source, text, {"format": "pdf", "title": title, "page": n}) for n, text in pages]


def _open(data: bytes, source: str) -> PdfReader:
    # pypdf raises PdfReadError, ValueError, KeyError, ... on corrupt input, so the
    # broad catches below turn all of them into one actionable line.
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise _unreadable(source, exc) from exc
    if encrypted:
        # Many PDFs are "encrypted" only to restrict printing or copying, with an
        # empty user password; those open normally.
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception as exc:  # e.g. AES without the 'cryptography' package
            raise InputError(
                f"{source}: the PDF is encrypted and cannot be opened ({one_line(exc)}); decrypt it or exclude it"
            ) from exc
        if not opened:
            raise InputError(f"{source}: the PDF is encrypted (password-protected); decrypt it or exclude it")
    try:
        len(reader.pages)  # parses the page tree: a broken file fails here
    except Exception as exc:
        raise _unreadable(source, exc) from exc
    return reader


def _unreadable(source: str, exc: Exception) -> InputError:
    return InputError(f"{source}: not a readable PDF ({one_line(exc)}); re-export it or exclude it")


def _info_title(reader: PdfReader) -> str:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except Exception:  # a broken info dictionary only costs us the title
        logger.debug("unreadable PDF document info", exc_info=True)
        return ""
    return str(title).strip() if title else ""
