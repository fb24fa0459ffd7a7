"""A TokenCounter over a Hugging Face fast tokenizer (shared by HF-based backends)."""

from __future__ import annotations

from typing import Any


class HFTokenCounter:
    """Counts tokens and reports their character spans, without special tokens."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    def count(self, text: str) -> int:
        return len(self._tok(text, add_special_tokens=False, truncation=False)["input_ids"])

    def spans(self, text: str) -> list[tuple[int, int]]:
        enc = self._tok(
            text, add_special_tokens=False, truncation=False, return_offsets_mapping=True
        )
        return [(int(a), int(b)) for a, b in enc["offset_mapping"] if b > a]
