"""Turn a follow-up question plus the conversation into one standalone question."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rag_app.generation.templates import PromptTemplate, load_template
from rag_app.protocols import Generator
from rag_app.types import Message

logger = logging.getLogger(__name__)

CONDENSE_TEMPLATE = "condense"


def format_history(history: Sequence[Message], *, max_turns: int = 6, max_chars: int = 600) -> str:
    """``User: ...`` / ``Assistant: ...`` lines for the last ``max_turns`` messages (long ones shortened)."""
    lines = []
    for m in [m for m in history if m.role in ("user", "assistant")][-max_turns:]:
        text = " ".join(m.content.split())
        if len(text) > max_chars:
            text = text[: max_chars - 1].rstrip() + "…"
        lines.append(f"{m.role.capitalize()}: {text}")
    return "\n".join(lines)


def condense_messages(
    question: str, history: Sequence[Message], template: PromptTemplate | None = None
) -> list[Message]:
    """The messages asking a model to rewrite ``question`` as a standalone question."""
    tpl = template or load_template(CONDENSE_TEMPLATE)
    fields = {"history": format_history(history), "question": question.strip(), "sources": ""}
    return tpl.messages(fields)


def condense_question(
    question: str,
    history: Sequence[Message],
    generator: Generator,
    *,
    template: PromptTemplate | None = None,
    max_tokens: int = 64,
) -> str:
    """A standalone version of ``question`` given ``history``; ``question`` itself when history is empty.

    The first non-empty line of the model's reply is used. If the model returns
    nothing usable, the original question is kept (and a warning logged).
    """
    if not any(m.role in ("user", "assistant") for m in history):
        return question
    result = generator.generate(condense_messages(question, history, template), max_tokens=max_tokens)
    for line in result.text.splitlines():
        line = line.strip().strip('"“”').strip()
        for prefix in ("Standalone question:", "Question:"):
            if line.lower().startswith(prefix.lower()):
                line = line[len(prefix) :].strip()
        if line:
            return line
    logger.warning("condensing produced no question; using the follow-up as asked")
    return question
