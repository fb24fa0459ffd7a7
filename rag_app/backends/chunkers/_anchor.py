"""Finding a splitter's pieces at exact offsets in the original text."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable

from rag_app.errors import InputError

Overlap = tuple[int, Callable[[str], int]]
"""``(chunk_overlap, length function)``: the most a piece shares with the previous one, as the splitter measures."""


def _ignored(text: str) -> str:
    """The distinct characters of ``text`` that matching ignores (whitespace, non-printables)."""
    return "".join(sorted(ch for ch in set(text) if ch.isspace() or not ch.isprintable()))


def squeeze(text: str) -> str:
    """``text`` without the characters matching ignores."""
    return text.translate(dict.fromkeys(map(ord, _ignored(text))))


class TextAnchor:
    """Finds pieces returned by a splitter at exact offsets in the original text.

    Splitters may change whitespace (MarkdownHeaderTextSplitter strips lines,
    drops blank lines and non-printable characters and re-joins with
    ``"  \\n"``; LlamaIndex's SentenceSplitter drops the whitespace between some
    sentences; ``splitter_text`` wraps over-long lines). Matching ignores
    whitespace and non-printable characters, so ``text[start:end]`` is always
    the original, unaltered text of the piece.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        ignored = _ignored(text)
        self._pos: list[int] = []
        if ignored:
            for run in re.finditer(f"[^{re.escape(ignored)}]+", text):
                self._pos.extend(range(run.start(), run.end()))
        else:
            self._pos = list(range(len(text)))
        self._squeezed = squeeze(text)

    def find(self, piece: str, start: int = 0) -> tuple[int, int] | None:
        """``(start, end)`` of the first match at or after ``start``; None if not found or blank."""
        needle = squeeze(piece)
        if not needle:
            return None
        k = self._squeezed.find(needle, bisect.bisect_left(self._pos, start))
        if k < 0:
            return None
        return self._span(k, len(needle))

    def locate(
        self,
        pieces: Iterable[str],
        source: str,
        start: int = 0,
        *,
        overlap: Overlap | None = None,
        split_text: str | None = None,
    ) -> list[tuple[int, int]]:
        """Offsets of consecutive ``pieces`` (blank ones skipped), each found after the previous start.

        Args:
            overlap: with it, a piece that also occurs earlier inside the previous
                one (repetitive text: one sentence over and over) is placed where it
                shares at most ``chunk_overlap`` with the previous piece, preferring
                a line start of ``split_text``, as the splitter cut it, instead of at
                the first repeat (offsets would fall further behind with every chunk).
            split_text: the text from ``start`` on as the splitter saw it (whitespace
                may differ); its line starts are where pieces of repetitive text begin.
        """
        spans: list[tuple[int, int]] = []
        cursor = start
        lines = _LineStarts(split_text, bisect.bisect_left(self._pos, start)) if split_text is not None else None
        for piece in pieces:
            found = self.find(piece, cursor)
            if found is None:
                if not squeeze(piece):
                    continue
                raise InputError(
                    f"{source}: a chunk could not be mapped back to the document text "
                    "(chunker bug); report it with this file"
                )
            if overlap is not None and spans:
                found = self._within_overlap(piece, found, spans[-1][1], overlap, lines)
            spans.append(found)
            cursor = found[0] + 1
        return spans

    def _span(self, k: int, n: int) -> tuple[int, int]:
        """Original ``(start, end)`` of ``n`` squeezed characters from squeezed index ``k``."""
        return self._pos[k], self._pos[k + n - 1] + 1

    def _within_overlap(
        self, piece: str, found: tuple[int, int], prev_end: int, overlap: Overlap, lines: _LineStarts | None
    ) -> tuple[int, int]:
        """Where ``piece`` starts if it shares at most the overlap with a piece ending at ``prev_end``."""
        limit, length = overlap
        k = bisect.bisect_left(self._pos, prev_end)
        latest = self._pos[k] if k < len(self._pos) else len(self._text)  # no gap: it starts by here
        if found[0] >= prev_end or length(self._text[found[0] : prev_end]) <= limit:
            first: tuple[int, int] | None = found
        else:  # binary search for the earliest start that leaves at most `limit` shared
            lo, hi = found[0], prev_end
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if length(self._text[mid:prev_end]) <= limit else (mid, hi)
            first = self.find(piece, hi)
        if first is None or first[0] > latest:
            return found  # the splitter measured differently: keep the first match
        if lines is None or first[0] >= prev_end:
            return first
        needle = squeeze(piece)
        k0, k1 = bisect.bisect_left(self._pos, first[0]), bisect.bisect_left(self._pos, latest)
        for line in lines.between(k0, k1):  # the splitter cuts repetitive text at line starts
            if self._squeezed.startswith(needle, line):
                return self._span(line, len(needle))
        return first


class _LineStarts:
    """Squeezed indices where a line of the splitter's text begins (computed on first use)."""

    def __init__(self, text: str, offset: int) -> None:
        self._text, self._offset = text, offset
        self._starts: list[int] | None = None

    def between(self, lo: int, hi: int) -> list[int]:
        if self._starts is None:
            self._starts, k = [], self._offset
            for line in self._text.split("\n"):
                n = len(squeeze(line))
                if n:
                    self._starts.append(k)
                k += n
        starts = self._starts
        return starts[bisect.bisect_left(starts, lo) : bisect.bisect_right(starts, hi)]
