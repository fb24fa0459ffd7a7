"""A deterministic extractive "generator": no model, the best source sentence with its ``[n]``.

It reads the numbered sources (lines starting ``[n]``) and the last ``Question:``
out of the grounded prompt and answers with the source sentence that shares the
most content words with the question, cited: ``<sentence> [n].`` With too little
overlap it says the sources do not contain the answer (which the pipeline
reports as an abstention). It is a floor for answer evaluation (what copying
the best sentence scores) and makes test pipelines plain YAML, as the
``hashing`` embedder does for embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.generators.stops import cut_at_stop
from rag_app.generation.support import split_claims, terms
from rag_app.types import GenerationResult, Message, TextStream

REFUSAL = "The sources do not contain the answer."
_SOURCE = re.compile(r"^\[(\d+)\][ \t]*(.*?)(?=^\[\d+\]|^Question:|\Z)", re.S | re.M)
_QUESTION = re.compile(r"^Question:\s*(.+)$", re.M)


class ExtractiveGenerator:
    """Answers with the best-overlapping source sentence and its ``[n]``."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_overlap: int = Field(default=1, ge=1, description="content words shared with the question to answer")

    runs_locally = True

    def __init__(self, params: Params | None = None, **_: object) -> None:
        self._params = params or self.Params()

    @property
    def name(self) -> str:
        return "extractive"

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        prompt = "\n".join(m.content for m in messages)
        reply, _ = cut_at_stop(self.reply(prompt), stop)
        words = re.findall(r"\S+\s*", reply)
        cut = max_tokens is not None and len(words) > max_tokens  # one word = one token here
        text = "".join(words[:max_tokens] if cut else words)
        text = text.rstrip() if cut else text
        return GenerationResult(text, self.count_tokens(prompt), self.count_tokens(text), "length" if cut else "stop")

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> TextStream:
        result = self.generate(messages, max_tokens=max_tokens, stop=stop)
        yield from re.findall(r"\S+\s*", result.text)
        return result

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def reply(self, prompt: str) -> str:
        """The answer to the last question in ``prompt`` from its numbered sources."""
        questions = _QUESTION.findall(prompt)
        wanted = terms(questions[-1] if questions else prompt).words
        best: tuple[int, int, str] | None = None
        for match in _SOURCE.finditer(prompt):
            text = match.group(2)
            for a, b in split_claims(text):
                sentence = text[a:b].strip().lstrip("-*#| ")
                if len(sentence.split()) < 4:
                    continue
                overlap = len(wanted & terms(sentence).words)
                if overlap >= self._params.min_overlap and (best is None or overlap > best[0]):
                    best = (overlap, int(match.group(1)), sentence)
        if best is None:
            return REFUSAL
        return f"{best[2].rstrip(' .')} [{best[1]}]."
