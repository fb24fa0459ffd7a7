"""Helpers shared by the file loaders: decoding, titles and the common errors."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import charset_normalizer

from rag_app.backends.loaders._sniff import binary_reason
from rag_app.errors import InputError, first_line

logger = logging.getLogger(__name__)

#: A first line longer than this is a paragraph, not a title.
MAX_TITLE_CHARS = 100
#: Share of control characters above which decoded bytes are treated as binary.
_MAX_CONTROL_SHARE = 0.01
#: Unicode "Cc" characters except the whitespace controls \t \n \v \f \r.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def read_bytes(path: Path, source: str) -> bytes:
    """The file's bytes, or an InputError naming ``source``."""
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"{source}: cannot read ({reason}); check the path and permissions") from exc


def no_text(source: str) -> InputError:
    """The error for a file that yields no text at all."""
    return InputError(f"{source}: no extractable text (empty or image-only file); add text (OCR it) or exclude it")


def require_text(text: str, source: str) -> str:
    """``text`` unchanged, or :func:`no_text` when it is blank."""
    if not text.strip():
        raise no_text(source)
    return text


def decode_text(data: bytes, source: str) -> str:
    """Decode a text file: UTF-8 (BOM allowed) first, then charset detection.

    Raises:
        InputError: the file is empty, its bytes look binary (a PDF or ZIP
            signature, NUL bytes, control bytes; see ``_sniff``), or they are
            not text in any encoding ``charset_normalizer`` recognises.
    """
    if not data.strip():
        raise no_text(source)
    reason = binary_reason(data)
    if reason is not None:
        raise InputError(f"{source}: not a text file ({reason})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        detected = _detect(data)
        if detected is None:
            raise InputError(
                f"{source}: not a text file (not UTF-8 and no text encoding detected); "
                "convert it to UTF-8 or exclude it"
            ) from exc
        encoding, text = detected
        logger.info("%s: not UTF-8, decoded as %s", source, encoding)
    if looks_binary(text):
        raise InputError(f"{source}: not a text file (binary content); exclude it or convert it to text")
    return require_text(text, source)


def _detect(data: bytes) -> tuple[str, str] | None:
    """``(encoding, text)`` for non-UTF-8 bytes, or None when they are not text.

    On short Western-European text charset_normalizer ranks several code pages
    as equally clean (it picks cp775 for a Latin-1 "café in Zürich"); among the
    least chaotic candidates we prefer cp1252, the superset of Latin-1 that most
    non-UTF-8 text files are written in.
    """
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    least = min(m.chaos for m in matches)
    for match in matches:
        if match.chaos == least and "cp1252" in match.could_be_from_charset:
            try:
                return "cp1252", data.decode("cp1252")
            except UnicodeDecodeError:
                break
    best = min(matches, key=lambda m: m.chaos)
    return best.encoding, str(best)


def looks_binary(text: str) -> bool:
    """True when more than 1% of the characters are control characters (NUL included)."""
    if not text:
        return False
    return len(_CONTROL.findall(text)) / len(text) > _MAX_CONTROL_SHARE


def title_from_text(text: str, path: Path) -> str:
    """The first non-blank line when it is short enough to be a title, else the file stem."""
    line = first_line(text)
    return line if line and len(line) < MAX_TITLE_CHARS else path.stem
