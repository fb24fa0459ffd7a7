"""Stop-sequence handling shared by the generator backends, and reading a stream to its end.

Servers and ``generate`` stop *near* a stop string; these helpers make the
returned text end exactly *before* it, in whole and in streamed form.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence

from rag_app.types import GenerationResult


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; return ``(text, stopped)``."""
    positions = [i for s in stop if s and (i := text.find(s)) >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopBuffer:
    """Filters a text stream so nothing at or after a stop string is emitted.

    Only the shortest tail that could still be the start of a stop string is
    held back, so ordinary text flows out without delay.
    """

    def __init__(self, stop: Sequence[str]) -> None:
        self._stop = [s for s in stop if s]
        self._pending = ""
        self.stopped = False

    def push(self, piece: str) -> str:
        """Add a piece; return the text that is now safe to emit."""
        if self.stopped or not piece:
            return ""
        if not self._stop:
            return piece
        text = self._pending + piece
        head, self.stopped = cut_at_stop(text, self._stop)
        if self.stopped:
            self._pending = ""
            return head
        hold = self._held_tail(text)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """The held-back tail, once the stream has ended without a stop."""
        rest, self._pending = self._pending, ""
        return "" if self.stopped else rest

    def _held_tail(self, text: str) -> int:
        longest = 0
        for s in self._stop:
            for n in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:n]):
                    longest = n
                    break
        return longest


def filter_stream(pieces: Iterable[str], stop: Sequence[str]) -> Generator[str, None, tuple[str, bool]]:
    """Yield ``pieces`` cut at the first stop string (the source is not consumed past it).

    Returns ``(text, stopped)``: everything yielded, and whether a stop string ended it.
    """
    buffer = StopBuffer(stop)
    emitted: list[str] = []
    for piece in pieces:
        out = buffer.push(piece)
        if out:
            emitted.append(out)
            yield out
        if buffer.stopped:
            return "".join(emitted), True
    tail = buffer.flush()
    if tail:
        emitted.append(tail)
        yield tail
    return "".join(emitted), False


def drain(stream: Iterator[str]) -> tuple[str, GenerationResult | None]:
    """Read a generator's stream to its end: the whole text, and the result it returned (None if none)."""
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            return "".join(pieces), end.value if isinstance(end.value, GenerationResult) else None
