"""A scripted generator backend for the UI tests: the test decides each streamed piece.

It is registered as a real backend (``generator: {type: scripted, params: {script: ui}}``),
so the app under test builds it from plain YAML like any other generator. A
:class:`Script` is the test's handle: what to stream, the finish reason to
report, and every conversation the generator was given.
"""

from __future__ import annotations

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
