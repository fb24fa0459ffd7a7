"""Bounded work per file: at most ``sources.max_chunks_per_file`` chunks, and no more text split than they need.

A 5 MB file of one line once took minutes and more than a gigabyte to split
into ~29k near-identical chunks. Before splitting, a file's text is cut after
``max_chunks * chunk_size`` tokens (its first chunks cannot reach further);
after splitting, chunks past the cap are dropped. Either way the caller logs
one warning naming the file and the cap, and the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag_app.protocols import Chunker, TokenCounter
from rag_app.tokens import BoundedCounter
from rag_app.types import Document

_WINDOW = 1 << 16  # characters measured per tokenizer call while looking for the cut
_MAX_TOKENS_PER_CHAR = 4  # byte-level BPE: at most one token per UTF-8 byte


def token_budget(chunker: Chunker, max_chunks: int) -> int | None:
    """Tokens the first ``max_chunks`` chunks can cover (None: the chunker does not say its chunk size)."""
    size = chunker.params_fingerprint().get("chunk_size")
    if not isinstance(size, int) or size <= 0:
        return None
    return (max_chunks + 1) * size


def cut_documents(
    docs: Sequence[Document], tokenizer: TokenCounter, max_tokens: int
) -> tuple[list[Document], bool]:
    """``docs`` (in order) cut after ``max_tokens`` tokens in all; True when anything was cut."""
    if sum(len(d.text) for d in docs) * _MAX_TOKENS_PER_CHAR <= max_tokens:
        return list(docs), False  # cannot be over the budget: measure nothing
    counter = BoundedCounter(tokenizer)
    kept: list[Document] = []
    left = max_tokens
    for doc in docs:
        used, cut = _cut(doc.text, counter, left)
        if cut is None:
            kept.append(doc)
            left -= used
            continue
        if doc.text[:cut].strip():
            kept.append(replace(doc, text=doc.text[:cut]))
        return kept, True
    return kept, False


def _cut(text: str, counter: BoundedCounter, budget: int) -> tuple[int, int | None]:
    """``(tokens, None)`` when ``text`` fits in ``budget`` tokens, else ``(budget, where to cut)``."""
    used, start = 0, 0
    while start < len(text):
        end = min(start + _WINDOW, len(text))
        if end < len(text):  # end the window at whitespace, so no word is measured in two halves
            space = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = space + 1 if space > start + _WINDOW // 2 else end
        window = text[start:end]
        n = counter.count(window)
        if used + n > budget:
            spans = counter.spans(window)
            k = max(0, budget - used)
            return budget, start + (spans[k][0] if k < len(spans) else len(window))
        used, start = used + n, end
    return used, None
