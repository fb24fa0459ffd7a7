"""A deterministic Generator test double shared by the unit tests (no model)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from rag_app.types import GenerationResult, Message


class CannedGenerator:
    """Answers every prompt with ``reply`` (or ``reply(prompt)``) and records what it was asked.

    ``calls`` holds each request's messages, ``prompts`` their contents joined by
    newlines, ``max_tokens`` each request's cap. Safe to call from several threads.
    """

    runs_locally = True  # in-process: follow-ups are not condensed unless the config asks

    def __init__(self, reply: str | Callable[[str], str], *, name: str = "canned") -> None:
        self._reply = reply
        self._name = name
        self._lock = threading.Lock()
        self.calls: list[list[Message]] = []
        self.prompts: list[str] = []
        self.max_tokens: list[int | None] = []

    @property
    def name(self) -> str:
        return self._name

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        prompt = "\n".join(m.content for m in messages)
        with self._lock:
            self.calls.append(list(messages))
            self.prompts.append(prompt)
            self.max_tokens.append(max_tokens)
        return GenerationResult(self._reply(prompt) if callable(self._reply) else self._reply)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        yield self.generate(messages, max_tokens=max_tokens).text

    def count_tokens(self, text: str) -> int:
        return len(text.split())
