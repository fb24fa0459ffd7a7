"""The source panel: a cited chunk shown in its document, the cited passage highlighted.

The document is loaded again from its file (``Pipeline.source_document``): a
PDF chunk is shown on its page, a Markdown chunk in its section (from the
heading before it to the next heading), any other text with the paragraphs
around it. The chunk's recorded ``start_char``/``end_char`` locate it; when
the file has changed since it was ingested the chunk is searched for, and when
it is gone the panel says so and shows the chunk as stored. Everything from the
document is rendered through ``rag_app.ui.safe_markdown``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import streamlit as st

from rag_app.errors import RagError, one_line
from rag_app.generation import source_location
from rag_app.pipeline import Pipeline
from rag_app.types import Chunk, Document, ScoredChunk
from rag_app.ui.citations import prepare
from rag_app.ui.safe_markdown import inline

logger = logging.getLogger(__name__)

#: Most characters of context shown on either side of the passage.
MAX_CONTEXT_CHARS = 1500
#: The container holding the cited passage (styled as a highlight by the app's CSS: ``.st-key-rag-cited``).
PASSAGE_KEY = "rag-cited"

_REQUEST = "rag_source_panel"
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_MARKDOWN_FORMATS = frozenset({"markdown", "md"})


@dataclass(frozen=True)
class Context:
    """A passage with the text around it, as the panel shows it."""

    before: str
    passage: str
    after: str
    scope: str  # "page 3", "section Attention > Cost", "" (nearby paragraphs)


def locate(text: str, chunk: Chunk) -> tuple[int, int] | None:
    """Where ``chunk`` is in its document's ``text``: its recorded offsets if they still match, else a search."""
    start, end = chunk.metadata.get("start_char"), chunk.metadata.get("end_char")
    if isinstance(start, int) and isinstance(end, int) and text[start:end] == chunk.text:
        return start, end
    found = text.find(chunk.text)
    return (found, found + len(chunk.text)) if found >= 0 and chunk.text else None


def _markdown_section(text: str, start: int, end: int) -> tuple[int, int]:
    """From the last heading at or before ``start`` to the first heading after ``end``."""
    lo = 0
    for match in _HEADING.finditer(text, 0, end):
        if match.start() > start:
            break
        lo = match.start()
    after = _HEADING.search(text, end)
    return lo, after.start() if after else len(text)


def _clamp(text: str, lo: int, hi: int, start: int, end: int, limit: int) -> tuple[int, int]:
    """At most ``limit`` characters either side of the passage, cut at a line break where there is one."""
    if start - lo > limit:
        cut = text.find("\n", start - limit, start)
        lo = cut + 1 if cut >= 0 else start - limit
    if hi - end > limit:
        cut = text.rfind("\n", end, end + limit)
        hi = cut if cut >= 0 else end + limit
    return lo, hi


def context_for(document: Document, chunk: Chunk, limit: int = MAX_CONTEXT_CHARS) -> Context | None:
    """The passage of ``chunk`` in ``document`` with its page / section around it; None when it is not there."""
    text = document.text
    span = locate(text, chunk)
    if span is None:
        return None
    start, end = span
    page = chunk.metadata.get("page", document.metadata.get("page"))
    if page is not None:
        lo, hi, scope = 0, len(text), f"page {page}"
    elif str(document.metadata.get("format", "")).lower() in _MARKDOWN_FORMATS or chunk.metadata.get("section"):
        lo, hi = _markdown_section(text, start, end)
        section = chunk.metadata.get("section")
        scope = f"section {section}" if section else "the text before the first heading"
    else:
        lo, hi, scope = 0, len(text), ""
    lo, hi = _clamp(text, lo, hi, start, end, limit)
    return Context(text[lo:start], text[start:end], text[end:hi], scope)


def open_later(hit: ScoredChunk, number: int) -> None:
    """Ask for the panel of citation ``[number]`` on this run (a widget callback; see :func:`show_requested`)."""
    st.session_state[_REQUEST] = (hit, number)


def show_requested(pipeline: Pipeline) -> None:
    """Open the panel a 'Show in document' click asked for, if any (once: closing it needs no rerun)."""
    request = st.session_state.pop(_REQUEST, None)
    if request is not None:
        show_source(pipeline, *request)


def show_source(pipeline: Pipeline, hit: ScoredChunk, number: int) -> None:
    """Open the source panel (a dialog) for citation ``[number]``."""
    title = f"Source [{number}]"
    st.dialog(title, width="large", icon=":material/article:")(_panel)(pipeline, hit)


def _load(pipeline: Pipeline, chunk: Chunk) -> tuple[Document | None, str]:
    """The chunk's document, or None and why not."""
    try:
        document = pipeline.source_document(chunk)
    except RagError as exc:
        return None, f"The document cannot be read now ({one_line(exc)})"
    except Exception as exc:  # a loader's own failure is still one line in the panel
        logger.exception("loading %s for the source panel failed", chunk.source)
        return None, f"The document cannot be read now ({one_line(exc)})"
    if document is None:
        return None, "The file is no longer on this machine"
    return document, "The file has changed since it was ingested"


def _panel(pipeline: Pipeline, hit: ScoredChunk) -> None:
    chunk = hit.chunk
    st.markdown(f"**{inline(source_location(hit))}**")
    st.caption(inline(chunk.source))  # the full path, wrapped by the app's CSS, never clipped
    document, problem = _load(pipeline, chunk)
    context = context_for(document, chunk) if document is not None else None
    if context is None:
        st.info(f"{inline(problem)}: the passage as stored.", icon=":material/info:")
        with st.container(border=True, key=PASSAGE_KEY):
            st.markdown(prepare(chunk.text))
        return
    if context.scope:
        st.caption(f":material/location_on: The cited passage, highlighted, in {inline(context.scope)}.")
    if context.before.strip():
        st.markdown(prepare(context.before))
    with st.container(border=True, key=PASSAGE_KEY):
        st.markdown(prepare(context.passage))
    if context.after.strip():
        st.markdown(prepare(context.after))
