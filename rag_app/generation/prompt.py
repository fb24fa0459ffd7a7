"""Grounded prompts: numbered sources [1]..[n] in rank order, within a token budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from rag_app.generation.excerpts import excerpt_texts
from rag_app.generation.templates import DEFAULT_TEMPLATE, PromptTemplate, load_template
from rag_app.types import Message, ScoredChunk

logger = logging.getLogger(__name__)

SOURCE_SEPARATOR = "\n\n"


def source_location(hit: ScoredChunk) -> str:
    """``file, p. N, § Section`` for a chunk (relpath preferred over the raw source)."""
    meta = hit.chunk.metadata
    parts = [str(meta.get("relpath") or hit.chunk.source)]
    if meta.get("page") is not None:
        parts.append(f"p. {meta['page']}")
    if meta.get("section"):
        parts.append(f"§ {meta['section']}")
    return ", ".join(parts)


def format_source(number: int, hit: ScoredChunk, template: PromptTemplate) -> str:
    """One numbered source as it appears in the prompt."""
    meta = hit.chunk.metadata
    return template.source.format(
        number=number,
        location=source_location(hit),
        text=hit.chunk.text.strip(),
        file=str(meta.get("relpath") or hit.chunk.source),
        page=meta.get("page", ""),
        section=meta.get("section", ""),
        score=f"{hit.score:.3f}",
    )


def fit_sources(
    sources: Sequence[ScoredChunk],
    template: PromptTemplate,
    count_tokens: Callable[[str], int],
    budget: int | None,
) -> list[ScoredChunk]:
    """The longest rank-order prefix of ``sources`` whose rendered block fits ``budget`` tokens.

    Whole chunks are dropped from the lowest rank up; a chunk is never cut.
    The top-ranked chunk is always kept (with a warning if it alone is over budget).
    """
    hits = list(sources)
    if budget is None or not hits:
        return hits
    sizes = [count_tokens(format_source(i, h, template)) for i, h in enumerate(hits, 1)]
    sep = count_tokens(SOURCE_SEPARATOR)
    total, keep = 0, 0
    for size in sizes:
        if total + size + (sep if keep else 0) > budget:
            break
        total += size + (sep if keep else 0)
        keep += 1
    # Token counts of parts can differ slightly from the joined text; confirm and trim.
    while keep > 1 and count_tokens(render_sources(hits[:keep], template)) > budget:
        keep -= 1
    if keep == 0:
        logger.warning(
            "the top source alone is %d tokens, over the context budget of %d; keeping it whole",
            sizes[0],
            budget,
        )
        keep = 1
    if keep < len(hits):
        logger.debug("context budget %d tokens: kept %d of %d sources", budget, keep, len(hits))
    return hits[:keep]


def render_sources(hits: Sequence[ScoredChunk], template: PromptTemplate) -> str:
    """The ``{sources}`` block: every hit formatted and numbered from 1."""
    if not hits:
        return "(no sources)"
    return SOURCE_SEPARATOR.join(format_source(i, h, template) for i, h in enumerate(hits, 1))


def build_messages(
    question: str,
    sources: Sequence[ScoredChunk],
    *,
    history: Sequence[Message] = (),
    template: PromptTemplate | None = None,
    count_tokens: Callable[[str], int],
    context_budget_tokens: int | None,
    excerpt_tokens: int | None = None,
) -> tuple[list[Message], list[ScoredChunk]]:
    """Build the chat messages for a grounded answer.

    Args:
        question: The (standalone) user question.
        sources: Retrieved chunks, best first; they are numbered [1]..[n] in this order.
        history: Earlier turns, placed between the system message and the question.
        template: The prompt shape; the shipped ``grounded`` template when None.
        count_tokens: The generator's token counter (``Generator.count_tokens``).
        context_budget_tokens: Most tokens the sources block may take; None for no limit.
        excerpt_tokens: Cut each source to its sentences that best match the question,
            at most this many tokens (see ``excerpts``); None keeps whole chunks.

    Returns:
        ``(messages, used)``: ``used[i]`` is source number ``i + 1`` in the prompt (whole chunks,
        also when the prompt shows excerpts of them).
    """
    tpl = template or load_template(DEFAULT_TEMPLATE)
    shown = list(sources)
    if excerpt_tokens is not None:
        texts = excerpt_texts(question, [h.chunk.text for h in shown], excerpt_tokens, count_tokens)
        shown = [replace(h, chunk=replace(h.chunk, text=t)) for h, t in zip(shown, texts, strict=True)]
    prompt_hits = fit_sources(shown, tpl, count_tokens, context_budget_tokens)
    used = list(sources[: len(prompt_hits)])
    fields = {"sources": render_sources(prompt_hits, tpl), "question": question.strip(), "history": ""}
    messages: list[Message] = []
    if tpl.system:
        messages.append(Message("system", tpl.system.format(**fields)))
    messages.extend(m for m in history if m.role in ("user", "assistant"))
    messages.append(Message("user", tpl.user.format(**fields)))
    return messages, used
