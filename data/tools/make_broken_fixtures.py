"""Generate the broken/tricky loader fixtures in ``tests/fixtures/broken/``.

Standard library only. Re-run from the repository root with::

    python3 data/tools/make_broken_fixtures.py

Output is deterministic (fixed random seed). Files:

- corrupt.pdf     starts with ``%PDF-1.4`` then a truncated object and garbage
- corrupt.docx    not a zip archive at all
- empty.txt       0 bytes
- binary.txt      2,048 random bytes that are not valid UTF-8
- truncated.html  ``<html><body><div`` (unclosed, no text)
- latin1.txt      valid but tricky: a short English sentence encoded as
                  latin-1 (not UTF-8), containing an e-acute and a u-umlaut
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "broken"


def main() -> int:
    rnd = random.Random(1234)
    OUT.mkdir(parents=True, exist_ok=True)
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n"
    pdf += bytes(rnd.randrange(256) for _ in range(300))
    (OUT / "corrupt.pdf").write_bytes(pdf)
    docx = b"This is not a Word document, just plain bytes pretending to be one.\n"
    docx += bytes(rnd.randrange(256) for _ in range(200))
    (OUT / "corrupt.docx").write_bytes(docx)
    (OUT / "empty.txt").write_bytes(b"")
    data = bytearray(rnd.randrange(256) for _ in range(2048))
    data[0:4] = b"\xff\xfe\xc3\x28"  # 0xFF is never valid UTF-8; C3 28 is a bad sequence
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # pragma: no cover
        raise SystemExit("binary.txt unexpectedly decodes as UTF-8")
    (OUT / "binary.txt").write_bytes(bytes(data))
    (OUT / "truncated.html").write_bytes(b"<html><body><div")
    sentence = "The caf\u00e9 in Z\u00fcrich serves excellent coffee and fresh pastries every morning.\n"
    (OUT / "latin1.txt").write_bytes(sentence.encode("latin-1"))
    for p in sorted(OUT.iterdir()):
        print("wrote", p.relative_to(OUT.parents[2]), p.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
