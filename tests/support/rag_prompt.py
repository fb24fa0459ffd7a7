"""A RAG-shaped prompt of a chosen token length, for llama.cpp timing (tests and eval/benchmarks/llama_cpp_speed.py).

A system prompt that starts with ``nonce`` (a new nonce: nothing of it is in the KV
cache), then numbered paragraphs of four corpus files up to about ``tokens`` of the
generator's own tokens, then the question as the user message: what a grounded
answer's prompt looks like, with a prefix two questions can share.
"""

from __future__ import annotations

from pathlib import Path

from rag_app.protocols import Generator
from rag_app.types import Message

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"
SOURCES = ("transformers/kv-cache.txt", "rag/what-is-rag.md", "evaluation/perplexity.txt", "training/lora.md")


def rag_messages(gen: Generator, question: str, *, nonce: str = "", tokens: int = 650) -> list[Message]:
    """A system prompt plus numbered corpus sources of about ``tokens`` tokens, then the question."""
    paragraphs = []
    for name in SOURCES:
        text = (CORPUS / name).read_text(encoding="utf-8")
        paragraphs += [p.strip() for p in text.split("\n\n") if len(p.strip()) > 80]
    system = f"{nonce}You answer questions using only the numbered sources below and cite them like [1].\n\nSources:\n"
    for n, paragraph in enumerate(paragraphs, 1):
        words = f"[{n}] {paragraph}".split(" ")
        low, high = 0, len(words)  # the most words of this source that keep the prompt within `tokens`
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if gen.count_tokens(system + " ".join(words[:mid])) <= tokens else (low, mid - 1)
        if low == 0:
            break
        system += "\n" + " ".join(words[:low]) + "\n"
    return [Message("system", system), Message("user", question)]
