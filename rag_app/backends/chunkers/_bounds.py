"""Bounds that keep one pathological file (a 5 MB line, a megabyte without a space) cheap to split.

* No token counts as longer than 32 characters (:mod:`rag_app.tokens`): a tokenizer
  that maps a 100 kB "word" to one ``[UNK]`` would otherwise let one chunk grow
  without limit (past Milvus' 64 kB text field, past any prompt budget).
* The splitters see a copy of the text where lines longer than
  :data:`LONG_LINE` are wrapped at spaces and runs without whitespace longer
  than :data:`LONG_RUN` are broken: LangChain's recursive splitter would
  otherwise measure such a line word by word (or character by character), one
  tokenizer call each. Only whitespace changes in the copy, and chunk offsets
  are found in the original text by :class:`~rag_app.backends.chunkers._anchor.TextAnchor`
  (which ignores whitespace), so chunk texts and offsets are the original's.

Ordinary prose (lines under 16k characters, words under 2k, ~4-6 characters a
token) is split exactly as without these bounds.
"""

from __future__ import annotations

import re

from rag_app.tokens import MAX_TOKEN_CHARS, BoundedCounter, bounded_spans

__all__ = ["MAX_TOKEN_CHARS", "BoundedCounter", "bounded_spans", "splitter_text"]

LONG_LINE = 16_384
"""Lines longer than this are wrapped for the splitter."""

LONG_RUN = 2_048
"""Runs of non-whitespace longer than this are broken for the splitter ..."""

RUN_PIECE = 512
"""... into pieces this long."""

_LONG_RUN_RE = re.compile(rf"\S{{{LONG_RUN + 1},}}")


def splitter_text(text: str, chunk_size: int, *, wrap: bool = True, separator: str = "\n") -> str:
    """``text`` for a splitter: over-long runs broken with ``separator``, over-long lines wrapped.

    Lines are wrapped (``wrap``) to ``2 * chunk_size`` characters (at least 64):
    a few lines per chunk, so the splitter measures each line once. Only
    whitespace is replaced or inserted, so ``TextAnchor`` maps pieces of the
    result back onto ``text`` exactly. Returns ``text`` itself when nothing is over-long.
    """
    if len(text) <= LONG_RUN:
        return text
    if _LONG_RUN_RE.search(text) is not None:
        text = _LONG_RUN_RE.sub(lambda m: _pieces(m.group(0), RUN_PIECE, separator), text)
    if not wrap or not any(len(line) > LONG_LINE for line in text.split("\n")):
        return text
    width = max(64, 2 * chunk_size)
    return "\n".join(_wrap(line, width) if len(line) > LONG_LINE else line for line in text.split("\n"))


def _pieces(run: str, size: int, separator: str) -> str:
    return separator.join(run[i : i + size] for i in range(0, len(run), size))


def _wrap(line: str, width: int) -> str:
    """Replace one space about every ``width`` characters with a newline (insert one where none is near)."""
    out = []
    i, n = 0, len(line)
    while n - i > width:
        cut = line.rfind(" ", i + 1, i + width + 1)
        if cut <= i:
            out.append(line[i : i + width])
            i += width
        else:
            out.append(line[i:cut])
            i = cut + 1
    out.append(line[i:])
    return "\n".join(out)
