"""Telling binary files from text by their bytes, before any decoding is tried.

Charset detection will happily read a PDF, a ZIP or random bytes as some
8-bit code page (an encrypted PDF named ``.txt`` came out as mac_iceland), so
text loaders check the bytes first: a known binary signature, NUL bytes
(outside UTF-16/32 with a byte-order mark), or more than 1% ASCII control bytes
(counted before decoding: some code pages map control bytes to printable glyphs).
"""

from __future__ import annotations

import codecs

#: Leading bytes of common binary formats -> (what it is, what to do about it).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF", "rename it to .pdf"),
    (b"PK\x03\x04", "a ZIP archive (DOCX, XLSX, EPUB ...)", "give it its real extension"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document", "convert it to DOCX or text"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "exclude it"),
    (b"\xff\xd8\xff", "a JPEG image", "exclude it"),
    (b"GIF87a", "a GIF image", "exclude it"),
    (b"GIF89a", "a GIF image", "exclude it"),
    (b"\x1f\x8b", "gzip-compressed data", "decompress it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it"),
    (b"\x7fELF", "an executable", "exclude it"),
    (b"SQLite format 3\x00", "an SQLite database", "exclude it"),
)
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: ASCII control bytes other than \t \n \v \f \r (the same set ``looks_binary`` counts after decoding).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_MAX_CONTROL_SHARE = 0.01
_PDF_HEADER_WINDOW = 1024  # the PDF header may follow some junk bytes


def binary_reason(data: bytes) -> str | None:
    """Why ``data`` is not text (``"its content is a PDF; rename it to .pdf"``), or None when it may be."""
    for magic, what, fix in _SIGNATURES:
        if data.startswith(magic):
            return f"its content is {what}; {fix}"
    head = data[:_PDF_HEADER_WINDOW]
    if b"%PDF-" in head and b"%%EOF" in data[-2048:]:
        return "its content is a PDF; rename it to .pdf"
    if data.startswith(_WIDE_BOMS):
        return None  # UTF-16/32 text is full of NUL bytes; the decoder judges it
    if b"\x00" in data:
        return "it contains NUL bytes (binary, or UTF-16 without a byte-order mark); exclude or convert it"
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if data and controls / len(data) > _MAX_CONTROL_SHARE:
        return f"{controls / len(data):.0%} of its bytes are control characters (binary content); exclude it"
    return None
