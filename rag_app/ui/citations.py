"""Rendering a finished answer: text with citation badges, source chips, flags and timings."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import streamlit as st

from rag_app.answering import CUT_SHORT
from rag_app.generation import source_location
from rag_app.generation.abstain import ABSTAIN_REASONS, LOW_CONFIDENCE
from rag_app.readable import answer_stages
from rag_app.types import Answer, Chunk, ScoredChunk
from rag_app.ui.safe_markdown import inline, neutralize

# [1]  [1, 2]  [2-4]: what parse_citations leaves in an answer (invalid numbers are already removed)
_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[-–,;]\s*\d{1,3})*)\s*\]")
_MATH = re.compile(r"(?<!\\)\$")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

#: Called with a cited chunk and its number when 'Show in document' is clicked (a widget callback).
OpenSource = Callable[[ScoredChunk, int], None]


def escape_math(text: str) -> str:
    """Escape ``$`` so prices and shell snippets are not rendered as LaTeX."""
    return _MATH.sub(r"\\$", text)


def demote_headings(text: str) -> str:
    """Markdown headings become bold lines (a heading inside a chat bubble or chip is too loud)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        lines.append(f"**{match.group(1)}**" if match else line)
    return "\n".join(lines)


def prepare(text: str) -> str:
    """Text from a model or a document, made safe to show as markdown.

    Nothing in it loads when shown (images become text, raw HTML is escaped,
    see ``rag_app.ui.safe_markdown``); ``$`` is not LaTeX; headings are demoted.
    """
    return demote_headings(neutralize(text))


def badge_markers(text: str) -> str:
    """Markdown for an answer: ``[n]`` markers become small blue badges (the text as :func:`prepare` makes it)."""
    return _MARKER.sub(lambda m: f":blue-badge[{m.group(1)}]", prepare(text))


def _code(text: str) -> str:
    """``text`` as an inline code span (a fence longer than any backtick run inside it)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"`{text}`"


def format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def timings_line(timings: Mapping[str, float]) -> str:
    """``retrieval 55 ms · judge 2.10 s · first token 2.40 s · total 3.40 s`` (stages that ran)."""
    return " · ".join(f"{label} {format_seconds(seconds)}" for label, seconds in answer_stages(timings))


def file_name(chunk: Chunk) -> str:
    """The short file name of a chunk's source."""
    return Path(str(chunk.metadata.get("relpath") or chunk.source)).name


def render_chunk(hit: ScoredChunk) -> None:
    """One chunk: where it comes from (file, page, heading), its score and its text."""
    st.markdown(f"**{inline(source_location(hit))}**")  # headings come from the document
    stages = " · ".join(f"{name} {value:.3f}" for name, value in hit.scores.items())
    score = f"score {hit.score:.3f}" + (f" ({stages})" if stages else "")
    st.caption(f"{score} · {inline(_code(hit.chunk.source))}")
    with st.container(border=True):
        st.markdown(prepare(hit.chunk.text))


def render_answer(
    answer: Answer, *, key: str, show_chunks: bool = False, open_source: OpenSource | None = None
) -> None:
    """The final answer of one turn (after streaming), with everything needed to check it.

    ``open_source``: offered in each citation's popover as 'Show in document' (the source panel).
    """
    if answer.abstained:
        st.info(answer.text, title="No answer in your documents", icon=":material/search_off:")
        reason = ABSTAIN_REASONS.get(answer.abstain_reason or "")
        if reason:
            st.caption(f":material/info: {reason}")
    else:
        if answer.low_confidence:  # before the text, so it is read before the answer is relied on
            st.warning(LOW_CONFIDENCE, icon=":material/help:")
        st.markdown(badge_markers(answer.text))
        _render_chips(answer, key, open_source)
        _render_checks(answer)
    st.caption(f":material/timer: {timings_line(answer.timings)}")
    if show_chunks:
        _render_sources(answer.sources, key)


def _render_checks(answer: Answer) -> None:
    """What the citation check found: removed, unsupported and uncited claims."""
    if answer.invalid_citations:
        cited = ", ".join(f"[{n}]" for n in answer.invalid_citations)
        st.warning(
            f"The model cited {cited}, but it was given only {len(answer.sources)} source(s); "
            "removed from the answer.",
            icon=":material/report:",
        )
    if answer.unsupported_citations:
        cited = ", ".join(f"[{n}]" for n in answer.unsupported_citations)
        st.warning(
            f"Removed {cited}: the cited source does not support the sentence.", icon=":material/report:"
        )
    unsupported = [c.text for c in answer.claims if c.supported is False]
    if unsupported:
        lines = "\n".join(f"- {inline(text)}" for text in unsupported)
        st.warning(f"Not supported by any source, check before relying on it:\n{lines}", icon=":material/warning:")
    if not answer.citations:
        st.caption(":material/info: This answer cites no source: check it against the retrieved chunks.")
    if answer.finish_reason == "length":
        st.caption(f":material/info: {CUT_SHORT[0].upper()}{CUT_SHORT[1:]}.")


def _render_chips(answer: Answer, key: str, open_source: OpenSource | None) -> None:
    if not answer.citations:
        return
    retrieved = {h.chunk.chunk_id: h for h in answer.sources}  # with each retriever's own score
    with st.container(horizontal=True, gap="small"):
        for citation in answer.citations:
            label = inline(f"[{citation.number}] {file_name(citation.chunk)}")
            if citation.supported:
                label += " ✓"
            hit = retrieved.get(citation.chunk.chunk_id) or ScoredChunk(citation.chunk, citation.score)
            tip = inline(source_location(hit))
            popover = f"{key}-cite-{citation.number}"
            # on_change="rerun" tracks whether it is open, so 'Show in document' can close it
            with st.popover(label, icon=":material/description:", help=tip, key=popover, on_change="rerun"):
                claims = [c.text for c in answer.claims if citation.number in c.citations]
                if claims:
                    verdict = "cited by the checker for" if citation.added else "supports"
                    st.caption(f"{verdict}: " + " ".join(f"“{inline(c)}”" for c in claims))
                render_chunk(hit)
                if open_source is not None:
                    st.button(
                        "Show in document",
                        key=f"{key}-open-{citation.number}",
                        icon=":material/article:",
                        help="The passage highlighted in its page or section",
                        on_click=_open_source,
                        args=(open_source, hit, citation.number, popover),
                    )


def _open_source(open_source: OpenSource, hit: ScoredChunk, number: int, popover: str) -> None:
    """Close the citation's popover (it would cover the source panel), then open the panel."""
    st.session_state[popover] = False
    open_source(hit, number)


def _render_sources(sources: list[ScoredChunk], key: str) -> None:
    with st.expander(f"Retrieved chunks ({len(sources)})", icon=":material/manage_search:", key=f"{key}-chunks"):
        if not sources:
            st.caption("No chunk scored above the pipeline's min_score.")
        for number, hit in enumerate(sources, 1):
            st.markdown(f"**[{number}]**")
            render_chunk(hit)
