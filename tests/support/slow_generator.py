"""A real generator that answers slowly: the ``extractive`` answer, one word per ``delay_s``, ``repeat`` times over.

It records what each stream did (started, words yielded, closed), so a test can
tell whether a consumer that went away really stopped the generation.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence

from rag_app.backends.generators.extractive import ExtractiveGenerator
from rag_app.types import Message


class SlowGenerator(ExtractiveGenerator):
    """``ExtractiveGenerator`` streaming at ``1 / delay_s`` words per second."""

    def __init__(self, *, delay_s: float = 0.05, repeat: int = 40) -> None:
        super().__init__()
        self.delay_s, self.repeat = delay_s, repeat
        self.started = threading.Event()
        self.closed = threading.Event()
        self.streams = 0
        self.yielded = 0
        self.total = 0  # words a stream yields when it runs to the end

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        words = re.findall(r"\S+\s*", self.generate(messages).text) * self.repeat
        self.total = len(words)
        self.streams += 1
        self.started.set()
        try:
            for word in words:
                time.sleep(self.delay_s)
                self.yielded += 1
                yield word if word.endswith(" ") else word + " "
        finally:
            self.closed.set()
