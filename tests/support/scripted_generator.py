"""A scripted generator backend for the UI tests: the test decides each streamed piece.

It is registered as a real backend (``generator: {type: scripted, params: {script: ui}}``),
so the app under test builds it from plain YAML like any other generator. A
:class:`Script` is the test's handle: what to stream, the finish reason to
report, the P(Yes) a judge reads, and every conversation the generator was given.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from rag_app import registry
from rag_app.types import GenerationResult, Message

SCRIPTS: dict[str, Script] = {}


@dataclass
class Script:
    """What generators built with ``params.script`` = this script's name stream, and what they were asked."""

    pieces: list[str]
    finish_reason: str | None = None  # set: the stream returns a result with it
    calls: list[list[Message]] = field(default_factory=list)
    built: int = 0  # generators built from this script (one per pipeline build)
    p_yes: float = 0.9  # what a judge reads as P(Yes) (answer.judge)


class ScriptedGenerator:
    """Streams its script's pieces and records each conversation into the script."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        script: str

    name = "scripted"
    runs_locally = True  # in-process: follow-ups are not condensed unless the config asks

    def __init__(self, params: Params, **_: object) -> None:
        self.script = SCRIPTS[params.script]
        self.script.built += 1

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        self.script.calls.append(list(messages))
        return GenerationResult("".join(self.script.pieces))

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Generator[str, None, GenerationResult | None]:
        self.script.calls.append(list(messages))
        pieces = list(self.script.pieces)
        yield from pieces
        if self.script.finish_reason is None:
            return None
        text = "".join(pieces)
        return GenerationResult(text, 100, self.count_tokens(text), self.script.finish_reason)

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        yes, no = math.log(self.script.p_yes), math.log(1 - self.script.p_yes)
        return [[yes if c.strip().lower() == "yes" else no for c in choices] for _ in conversations]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@contextmanager
def scripted(name: str, pieces: Sequence[str]) -> Iterator[Script]:
    """Register the ``scripted`` generator and a script called ``name`` for the duration of the block."""
    script = SCRIPTS[name] = Script(list(pieces))
    registry.register("generator", "scripted", f"{__name__}:ScriptedGenerator")
    try:
        yield script
    finally:
        del SCRIPTS[name]
        if not SCRIPTS:
            registry.unregister("generator", "scripted")
