"""Fixed chunker: windows of ``chunk_size`` tokens sharing ``chunk_overlap`` tokens."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict

from rag_app.backends.chunkers._bounds import bounded_spans
from rag_app.backends.chunkers._common import ChunkParams, Span, fingerprint, make_chunks
from rag_app.protocols import TokenCounter
from rag_app.types import Chunk, Document


class FixedChunker:
    """Slides a window of ``chunk_size`` tokens forward by ``chunk_size - chunk_overlap``.

    Written over ``tokenizer.spans`` rather than a library token splitter:
    those decode token ids back to text, which loses case, accents and spacing
    with uncased tokenizers (MiniLM lowercases); slicing the original text by
    token offsets keeps it exact. Window edges move back to the nearest word
    boundary, so no word is cut in two (a word fragment re-tokenizes into more
    tokens, "##ise" -> "is ##e"): a window then holds a little fewer than
    ``chunk_size`` tokens and the overlap a little more than ``chunk_overlap``.
    With a whole-word tokenizer every window is exactly ``chunk_size`` tokens.
    Characters no token covers (punctuation, for a word tokenizer) stay with
    the preceding token. A token longer than 32 characters counts as several
    (a 100 kB "word" is cut into windows, not kept as one chunk).
    """

    class Params(ChunkParams):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, *, tokenizer: TokenCounter, **_: object) -> None:
        self.params = params
        self._tokenizer = tokenizer

    def params_fingerprint(self) -> dict[str, object]:
        return fingerprint("fixed", self.params)

    def split(self, documents: Sequence[Document]) -> list[Chunk]:
        return make_chunks(documents, self._spans)

    def _spans(self, doc: Document) -> list[Span]:
        text = doc.text
        tokens = bounded_spans(self._tokenizer.spans(text))  # no token over 32 characters
        n = len(tokens)
        size, overlap = self.params.chunk_size, self.params.chunk_overlap
        spans: list[Span] = []
        first = 0
        while first < n:
            last = min(first + size, n)  # exclusive
            last = _word_start(text, tokens, last, floor=first + 1) if last < n else n
            start = 0 if first == 0 else tokens[first][0]
            end = tokens[last][0] if last < n else len(text)
            spans.append(_trimmed(text, start, end))
            if last >= n:
                break
            first = _word_start(text, tokens, max(last - overlap, first + 1), floor=first + 1)
        return spans


def _word_start(text: str, tokens: list[tuple[int, int]], i: int, *, floor: int) -> int:
    """The nearest token index ``<= i`` (and ``>= floor``) that begins a word; ``i`` if none does."""
    j = i
    while j > floor and _inside_word(text, tokens, j):
        j -= 1
    return i if _inside_word(text, tokens, j) else j


def _inside_word(text: str, tokens: list[tuple[int, int]], i: int) -> bool:
    """True when token ``i`` continues the previous token's word (no gap, letters on both sides)."""
    if i <= 0 or i >= len(tokens):
        return False
    start = tokens[i][0]
    return start <= tokens[i - 1][1] and text[start - 1].isalnum() and text[start].isalnum()


def _trimmed(text: str, start: int, end: int) -> Span:
    """``[start, end)`` without leading or trailing whitespace."""
    piece = text[start:end]
    if not piece.strip():
        return Span(start, start)
    lead = len(piece) - len(piece.lstrip())
    return Span(start + lead, start + len(piece.rstrip()))
