"""Find ``[n]`` citation markers in an answer and resolve them to the numbered sources."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag_app.types import Citation, ScoredChunk

# [3]  [1, 2]  [1,2;4]  [2-4]  [2–4]
_NUM = r"\d{1,3}(?:\s*[-–]\s*\d{1,3})?"  # 4+ digits (years) are not citations
MARKER = re.compile(rf"\[\s*({_NUM}(?:\s*[,;]\s*{_NUM})*)\s*\]")
_PART = re.compile(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?")
_MAX_RANGE = 50  # a wider "range" is not a citation ([1-200] stays text)
_DROPPED = "\x00"
_GAP = re.compile(rf"[ \t]*{_DROPPED}(?:[ \t]*{_DROPPED})*[ \t]*")
_CLOSING = set(".,;:!?)]}")


def _numbers(group: str) -> list[int] | None:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        match = _PART.fullmatch(part)
        if match is None:
            return None
        if match.group(2) is None:
            out.append(int(match.group(1)))
            continue
        a, b = sorted((int(match.group(1)), int(match.group(2))))
        if b - a > _MAX_RANGE:
            return None
        out.extend(range(a, b + 1))
    return out


def marker_numbers(match: re.Match[str]) -> list[int] | None:
    """The source numbers of one ``MARKER`` match (ranges expanded); None if it is not a citation."""
    return _numbers(match.group(1))


def parse_citations(text: str, sources: Sequence[ScoredChunk]) -> tuple[str, list[Citation], list[int]]:
    """Resolve citation markers against ``sources`` (source ``n`` is ``sources[n - 1]``).

    Returns:
        ``(clean_text, citations, invalid_numbers)``: markers citing numbers outside
        ``1..len(sources)`` lose those numbers (a marker left empty is removed with
        its surrounding space); ``citations`` are the valid numbers in order of first
        appearance, each once; ``invalid_numbers`` likewise for the invalid ones.
    """
    seen: dict[int, None] = {}
    invalid: dict[int, None] = {}

    def replace(match: re.Match[str]) -> str:
        numbers = _numbers(match.group(1))
        if numbers is None:
            return match.group(0)
        good = [n for n in numbers if 1 <= n <= len(sources)]
        for n in numbers:
            (seen if 1 <= n <= len(sources) else invalid).setdefault(n, None)
        if len(good) == len(numbers):
            return match.group(0)
        if not good:
            return _DROPPED
        return "[" + ", ".join(str(n) for n in dict.fromkeys(good)) + "]"

    marked = MARKER.sub(replace, text.replace(_DROPPED, ""))
    clean = _GAP.sub(lambda m: _close_gap(marked, m), marked) if _DROPPED in marked else marked
    citations = [Citation(n, sources[n - 1].chunk, sources[n - 1].score) for n in seen]
    return clean, citations, list(invalid)


def _close_gap(text: str, match: re.Match[str]) -> str:
    before = text[match.start() - 1] if match.start() > 0 else "\n"
    after = text[match.end()] if match.end() < len(text) else "\n"
    if before == "\n" or after == "\n" or after in _CLOSING:
        return ""
    spaced = match.group(0) != _DROPPED * match.group(0).count(_DROPPED)
    return " " if spaced else ""
