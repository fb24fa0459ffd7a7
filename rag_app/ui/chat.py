"""The chat page: streamed, cited answers over the selected pipeline."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rag_app.errors import RagError, one_line
from rag_app.pipeline import Pipeline
from rag_app.types import Answer, Filter, Message
from rag_app.ui import history, source_panel, state
from rag_app.ui.actions import render_actions, render_examples
from rag_app.ui.citations import prepare, render_answer
from rag_app.ui.safe_markdown import neutralize
from rag_app.ui.uploads import describe_sources

logger = logging.getLogger(__name__)

MAX_TOP_K = 20


@dataclass(frozen=True)
class Knobs:
    """This session's retrieval settings from the sidebar."""

    top_k: int
    filters: tuple[Filter, ...]
    show_chunks: bool


def sidebar_knobs(pipeline: Pipeline | None) -> Knobs:
    """Retrieval knobs and the debug toggle in the sidebar."""
    with st.sidebar:
        st.subheader("Retrieval")
        default_k = pipeline.config.retrieval.top_k if pipeline else 5
        top_k = st.slider("Chunks to retrieve (top-k)", 1, max(MAX_TOP_K, default_k), default_k, key="top_k")
        filters: tuple[Filter, ...] = ()
        if pipeline is not None:
            labels = _document_labels(pipeline)
            chosen = st.multiselect(
                "Only these documents",
                options=list(labels),
                format_func=lambda source: labels.get(source, source),
                placeholder="all documents",
                key="only_documents",
            )
            if chosen:
                filters = (Filter("source", "in", list(chosen)),)
        show_chunks = st.toggle("Show retrieved chunks", key="show_chunks")
    return Knobs(int(top_k), filters, bool(show_chunks))


def _document_labels(pipeline: Pipeline) -> dict[str, str]:
    try:
        sources = [doc["source"] for doc in pipeline.documents()]
    except RagError:
        return {}
    return describe_sources(sources, Path.cwd())


def chat_page() -> None:
    """Render the conversation so far, then answer a new question if one was typed or clicked."""
    pipeline = state.current_pipeline()
    notice = state.warming_notice()
    history.follow(pipeline)
    knobs = sidebar_knobs(pipeline)
    conversations = st.sidebar.container()  # filled last: lists a conversation saved by this run
    st.title("Ask your documents")
    if pipeline is not None:
        st.caption(f"Pipeline **{pipeline.config.name}** · {pipeline.config.description}")
    typed = st.chat_input("Ask a question about your documents", disabled=pipeline is None)
    question = typed or state.pending_question()
    turns = state.turns()
    for index, turn in enumerate(turns):
        _render_turn(turn, index, knobs.show_chunks, last=not question and index == len(turns) - 1)
    if pipeline is not None and not turns and not question:
        render_examples(pipeline)
    if question and pipeline is not None:
        turn = state.Turn(question=question, config=state.selected_config().name)
        past = state.history_messages(turns)
        turns.append(turn)
        with st.chat_message("user"):
            st.markdown(neutralize(question))
        with st.chat_message("assistant"):
            _answer(pipeline, turn, past, knobs, len(turns) - 1)
            render_actions(turn, len(turns) - 1, last=True)
        history.save(pipeline)
        notice.empty()  # the models are loaded by now
    if pipeline is not None:
        source_panel.show_requested(pipeline)
    with conversations:
        history.sidebar(pipeline)


def _render_turn(turn: state.Turn, index: int, show_chunks: bool, *, last: bool) -> None:
    with st.chat_message("user"):
        st.markdown(neutralize(turn.question))
    with st.chat_message("assistant"):
        if turn.answer is not None:
            render_answer(
                turn.answer, key=f"turn{index}", show_chunks=show_chunks, open_source=source_panel.open_later
            )
        elif turn.error:
            _show_error(turn)
        render_actions(turn, index, last=last)


def _answer(pipeline: Pipeline, turn: state.Turn, history: list[Message], knobs: Knobs, index: int) -> None:
    """Stream the answer into a placeholder, then replace it with the final rendering."""
    slot = st.empty()
    try:
        with st.spinner("Searching your documents…", show_time=True):
            stream = pipeline.stream(
                turn.question, history=history, top_k=knobs.top_k, filters=knobs.filters
            )
        if stream.abstained:
            answer: Answer = stream.result()
        else:
            with slot.container():
                _show_stream(stream)
            assert stream.answer is not None
            answer = stream.answer
    except RagError as exc:
        turn.error = one_line(exc)
        turn.needs_documents = _collection_empty(pipeline)
    except Exception as exc:  # never a raw traceback in the page
        logger.exception("answering %r failed", turn.question)
        turn.error = one_line(exc)
    else:
        turn.answer = answer
    slot.empty()
    with slot.container():
        if turn.answer is not None:
            render_answer(
                turn.answer, key=f"turn{index}", show_chunks=knobs.show_chunks, open_source=source_panel.open_later
            )
        elif turn.error:
            _show_error(turn)


def _show_stream(pieces: Iterable[str], every_s: float = 0.05) -> str:
    """Show streamed answer text as it grows; like the final answer, nothing in it loads (no images, no HTML).

    ``st.write_stream`` would render the model's raw Markdown, so an image the
    model was led to write would be fetched before the final rendering.
    """
    box = st.empty()
    text, shown = "", 0.0
    for piece in pieces:
        text += piece
        if time.monotonic() - shown >= every_s:
            box.markdown(prepare(text))
            shown = time.monotonic()
    box.markdown(prepare(text))
    return text


def _collection_empty(pipeline: Pipeline) -> bool:
    try:
        return pipeline.stats().chunks == 0
    except Exception:  # the error already shown is the one that matters
        return False


def _show_error(turn: state.Turn) -> None:
    st.error(turn.error or "unknown error", icon=":material/error:")
    if turn.needs_documents:
        st.page_link(
            "views/documents.py", label="Upload documents on the Documents page", icon=":material/upload_file:"
        )
