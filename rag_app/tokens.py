"""Token measures with a bound on token length, shared by the chunkers and ingestion's work bounds."""

from __future__ import annotations

from rag_app.protocols import TokenCounter

MAX_TOKEN_CHARS = 32
"""A token longer than this counts (and is cut) as several."""


def bounded_spans(spans: list[tuple[int, int]], max_chars: int = MAX_TOKEN_CHARS) -> list[tuple[int, int]]:
    """``spans`` with every span longer than ``max_chars`` cut into ``max_chars`` pieces."""
    if all(b - a <= max_chars for a, b in spans):
        return spans
    out: list[tuple[int, int]] = []
    for a, b in spans:
        while b - a > max_chars:
            out.append((a, a + max_chars))
            a += max_chars
        out.append((a, b))
    return out


class BoundedCounter:
    """A :class:`TokenCounter` where no token is longer than :data:`MAX_TOKEN_CHARS` characters.

    A tokenizer that maps a 100 kB "word" to one ``[UNK]`` would otherwise let
    one chunk grow without limit. For ordinary text (a few characters a token)
    it counts exactly like the tokenizer it wraps.
    """

    def __init__(self, tokenizer: TokenCounter) -> None:
        self._tokenizer = tokenizer

    def count(self, text: str) -> int:
        # Cheaper than len(self.spans(text)) and equal for any text without over-long tokens.
        return max(self._tokenizer.count(text), -(-len(text.strip()) // MAX_TOKEN_CHARS))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return bounded_spans(self._tokenizer.spans(text))
