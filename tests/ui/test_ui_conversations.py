"""Saved conversations: listed in the sidebar, reopened after a restart, per collection, deletable."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from rag_app.config import load_config
from rag_app.errors import BackendError
from rag_app.types import Answer, Chunk, Citation, Claim, ScoredChunk
from rag_app.ui.conversations import ConversationStore, Turn, answer_from_dict, conversations_path
from rag_app.ui.history import short_title
from tests.ui.conftest import UiEnv

Ask = Callable[[AppTest, str], AppTest]
QUESTION = "How does attention scale with sequence length?"


def saved_titles(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if (b.key or "").startswith("conv-open-")]


def restart(ui_env: UiEnv) -> AppTest:
    """A fresh session in a fresh 'process': no cached pipeline, no session state."""
    st.cache_resource.clear()
    return ui_env.app().run()


def test_answer_round_trips_through_json() -> None:
    chunk = Chunk("d:00001", "d", "/docs/a.md", "Text.", {"page": 2, "section": "Intro", "start_char": 5})
    answer = Answer(
        text="It is quadratic [1].",
        citations=[Citation(1, chunk, 0.8, supported=True)],
        sources=[ScoredChunk(chunk, 0.8, {"dense": 0.8, "bm25": 1.5})],
        invalid_citations=[7],
        timings={"retrieve": 0.01, "total": 1.0},
        usage={"prompt_tokens": 10},
        claims=[Claim("It is quadratic.", [1], True, 0.9)],
        unsupported_citations=[2],
        raw_text="It is quadratic [1] [7].",
    )
    assert answer_from_dict(dataclasses.asdict(answer)) == answer


def test_store_saves_lists_and_deletes(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "state" / "conversations.sqlite3")
    assert store.recent() == [] and store.turns(1) == []
    assert not store.path.exists()  # reading creates nothing
    first = store.create("First question?")
    second = store.create("Second question?")
    store.save(first, [Turn("First question?", error="boom"), Turn("And then?", config="a.yaml")])
    assert [c.title for c in store.recent()] == ["First question?", "Second question?"]  # most recent first
    assert [(c.id, c.turns) for c in store.recent()] == [(first, 2), (second, 0)]
    assert [t.question for t in store.turns(first)] == ["First question?", "And then?"]
    assert store.turns(first)[0].error == "boom" and store.turns(first)[1].config == "a.yaml"
    assert store.delete(first) and not store.delete(first)
    assert [c.id for c in store.recent()] == [second]
    with sqlite3.connect(store.path) as conn:  # the turns went with it
        assert conn.execute("SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (first,)).fetchone() == (0,)
    with pytest.raises(BackendError, match="no longer exists"):
        store.save(first, [Turn("late")])


def test_short_titles_fit_one_line() -> None:
    assert short_title("  What is\nLoRA?  ") == "What is LoRA?"
    long = "How does the attention mechanism scale with the length of the input sequence?"
    title = short_title(long)
    assert len(title) <= 24 and title.endswith("…") and long.startswith(title[:-1])


def test_conversation_is_saved_listed_and_reopened_after_a_restart(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at = ask(at, "And what does LoRA learn?")
    shown = [m.markdown[0].value for m in at.chat_message]
    labels = [c.proto.popover.label for c in at.get("popover")]
    assert len(shown) == 4 and labels
    assert saved_titles(at) == [short_title(QUESTION)]
    path = conversations_path(load_config(ui_env.config))
    assert path.is_file() and path.parent == ui_env.root / "state-a"  # under the collection's state dir

    at = restart(ui_env)
    assert len(at.chat_message) == 0  # a new session starts with a new conversation
    assert saved_titles(at) == [short_title(QUESTION)]
    (opener,) = [b for b in at.sidebar.button if (b.key or "").startswith("conv-open-")]
    opener.click().run()
    assert not at.exception
    assert [m.markdown[0].value for m in at.chat_message] == shown  # answers, badges and chips as they were
    assert [c.proto.popover.label for c in at.get("popover")] == labels
    assert "quadratically with sequence length" in "\n".join(str(e.value) for e in at.get("popover")[0].markdown)
    # a follow-up in the reopened conversation gets its history and is saved into it
    at = ask(at, "Anything else?")
    *earlier, _ = ui_env.generator.calls[-1]
    assert [(m.role, m.content) for m in earlier if m.role != "system"][:2] == [
        ("user", QUESTION),
        ("assistant", "Attention grows quadratically [1]."),
    ]
    (conversation,) = ConversationStore(path).recent()
    assert conversation.turns == 3


def test_new_conversation_starts_another_saved_one(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at.sidebar.button[0].click().run()  # New conversation
    assert len(at.chat_message) == 0
    at = ask(at, "What does LoRA learn?")
    assert saved_titles(at) == ["What does LoRA learn?", short_title(QUESTION)]
    current = [b.proto.type for b in at.sidebar.button if (b.key or "").startswith("conv-open-")]
    assert current == ["secondary", "tertiary"]  # the open one is marked


def test_conversations_are_per_collection(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    picker = at.sidebar.selectbox(key="config_picker")
    picker.select(ui_env.empty_config.resolve()).run()
    assert saved_titles(at) == [] and len(at.chat_message) == 0
    at = ask(at, "Anything in here?")  # an error turn, saved in the empty collection's list
    assert saved_titles(at) == ["Anything in here?"]
    at.sidebar.selectbox(key="config_picker").select(ui_env.config.resolve()).run()
    assert saved_titles(at) == [short_title(QUESTION)]
    assert at.chat_message[0].markdown[0].value == QUESTION  # the conversation left open there is back


def test_deleting_a_conversation(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at.sidebar.button[0].click().run()
    at = ask(at, "What does LoRA learn?")
    delete = [b for b in at.sidebar.button if (b.key or "").startswith("conv-delete-")]
    assert [b.proto.help for b in delete] == ["Delete this conversation"] * 2
    delete[1].click().run()  # the older one, not open: the page keeps the open conversation
    assert saved_titles(at) == ["What does LoRA learn?"]
    assert len(at.chat_message) == 2
    next(b for b in at.sidebar.button if (b.key or "").startswith("conv-delete-")).click().run()
    assert saved_titles(at) == [] and len(at.chat_message) == 0  # the open one: the page is cleared
    assert ConversationStore(conversations_path(load_config(ui_env.config))).recent() == []
    assert restart(ui_env).sidebar.button[0].label == "New conversation" and saved_titles(restart(ui_env)) == []
