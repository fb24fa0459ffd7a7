"""Conversations in the sidebar: new, reopen, delete; the open one is saved after every turn.

Each session keeps, per collection, which saved conversation it has open, so
switching the pipeline config to another collection shows that collection's
conversations, and switching back reopens the one left there. Storage is
``rag_app.ui.conversations`` (SQLite next to the collection's manifest).
"""

from __future__ import annotations

import logging

import streamlit as st

from rag_app.errors import RagError, one_line
from rag_app.pipeline import Pipeline
from rag_app.ui import state
from rag_app.ui.conversations import Conversation, ConversationStore, conversations_path
from rag_app.ui.safe_markdown import inline

logger = logging.getLogger(__name__)

_OPEN = "rag_open_conversations"  # {conversations file: id of the open conversation}
_SHOWN = "rag_shown_conversations"  # the conversations file whose turns are in the session now
TITLE_CHARS = 24  # fits the sidebar next to the delete button, not cut by CSS
MAX_LISTED = 30


def store(pipeline: Pipeline) -> ConversationStore:
    return ConversationStore(conversations_path(pipeline.config))


def _open_ids() -> dict[str, int]:
    value: dict[str, int] = st.session_state.setdefault(_OPEN, {})
    return value


def open_id(conversations: ConversationStore) -> int | None:
    """The id of the conversation this session has open in ``conversations`` (None: a new, unsaved one)."""
    return _open_ids().get(str(conversations.path))


def follow(pipeline: Pipeline | None) -> None:
    """Show the conversation this session has open in the pipeline's collection (after a config switch)."""
    if pipeline is None:
        return
    conversations = store(pipeline)
    key = str(conversations.path)
    if st.session_state.get(_SHOWN) == key:
        return
    st.session_state[_SHOWN] = key
    conversation = open_id(conversations)
    state.set_turns(_load(conversations, conversation) if conversation is not None else [])


def _load(conversations: ConversationStore, conversation: int) -> list[state.Turn]:
    try:
        return conversations.turns(conversation)
    except RagError as exc:
        st.sidebar.warning(f"Cannot open the conversation: {inline(one_line(exc))}", icon=":material/warning:")
        return []


def save(pipeline: Pipeline) -> None:
    """Save this session's turns as the open conversation (created, titled by its first question, if new)."""
    turns = state.turns()
    if not turns:
        return
    conversations = store(pipeline)
    try:
        conversation = open_id(conversations)
        if conversation is None:
            conversation = conversations.create(turns[0].question)
            _open_ids()[str(conversations.path)] = conversation
        conversations.save(conversation, turns)
    except RagError as exc:
        logger.warning("saving the conversation failed: %s", one_line(exc))
        st.warning(f"This conversation was not saved: {inline(one_line(exc))}", icon=":material/warning:")


def _start_new(path: str) -> None:
    _open_ids().pop(path, None)
    state.clear_turns()


def _open(conversations: ConversationStore, conversation: int) -> None:
    _open_ids()[str(conversations.path)] = conversation
    state.set_turns(_load(conversations, conversation))


def _delete(conversations: ConversationStore, conversation: int) -> None:
    try:
        conversations.delete(conversation)
    except RagError as exc:
        st.session_state["rag_history_notice"] = f"Not deleted: {one_line(exc)}"
        return
    if open_id(conversations) == conversation:
        _start_new(str(conversations.path))


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    """One line of at most ``limit`` characters (cut at a word, with an ellipsis)."""
    line = " ".join(title.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] if " " in line[: limit - 1] else line[: limit - 1]
    return cut.rstrip(" ,.;:") + "…"


def sidebar(pipeline: Pipeline | None) -> None:
    """'New conversation' and the saved conversations of the selected collection (call it in the sidebar)."""
    if pipeline is None:
        st.button("New conversation", icon=":material/add_comment:", width="stretch", on_click=state.clear_turns)
        return
    conversations = store(pipeline)
    st.button(
        "New conversation",
        icon=":material/add_comment:",
        width="stretch",
        on_click=_start_new,
        args=(str(conversations.path),),
    )
    notice = st.session_state.pop("rag_history_notice", None)
    if notice:
        st.warning(inline(notice), icon=":material/warning:")
    try:
        saved = conversations.recent(MAX_LISTED)
    except RagError as exc:
        st.warning(f"Cannot list conversations: {inline(one_line(exc))}", icon=":material/warning:")
        return
    if not saved:
        return
    st.subheader("Conversations")
    current = open_id(conversations)
    for conversation in saved:
        _row(conversations, conversation, current)


def _row(conversations: ConversationStore, conversation: Conversation, current: int | None) -> None:
    with st.container(
        horizontal=True, wrap=False, gap="small", vertical_alignment="center", key=f"conv-{conversation.id}"
    ):
        st.button(
            inline(short_title(conversation.title)),
            key=f"conv-open-{conversation.id}",
            help=inline(conversation.title),
            type="secondary" if conversation.id == current else "tertiary",
            icon=":material/chat:",
            width="stretch",
            on_click=_open,
            args=(conversations, conversation.id),
        )
        st.button(
            "",
            key=f"conv-delete-{conversation.id}",
            help="Delete this conversation",
            type="tertiary",
            icon=":material/delete:",
            on_click=_delete,
            args=(conversations, conversation.id),
        )
