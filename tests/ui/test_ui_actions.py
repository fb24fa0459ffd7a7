"""Example questions on the empty page, the copy button and regenerate."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from rag_app.config import load_config
from rag_app.pipeline import build_pipeline
from rag_app.types import Answer, Chunk, Citation
from rag_app.ui.actions import copy_text
from tests.ui.conftest import ANSWER, UiEnv, write_config

Ask = Callable[[AppTest, str], AppTest]
QUESTION = "How does attention scale with sequence length?"


def examples(at: AppTest) -> list[str]:
    return [b.label for b in at.main.button if (b.key or "").startswith("example-")]


def copy_bodies(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if 'class="rag-copy"' in h.proto.body]


def test_examples_come_from_the_document_titles_and_ask_when_clicked(ui_env: UiEnv) -> None:
    at = ui_env.app().run()
    assert examples(at) == ["What is Attention?", "What is LoRA?"]  # bm25.txt has no title line
    at.button(key="example-1").click().run()
    assert not at.exception
    user, assistant = at.chat_message
    assert user.markdown[0].value == "What is LoRA?" and assistant.markdown[0].value.startswith("Attention grows")
    assert examples(at) == []  # only on the empty page
    assert "What is LoRA?" in ui_env.generator.calls[0][-1].content


def test_a_title_with_markup_is_not_offered_as_an_example(ui_env: UiEnv) -> None:
    (ui_env.docs / "beacon.md").write_text(
        "# Beacons ![h](http://leak.invalid/heading.png)\n\nBeacons grow quadratically.\n", encoding="utf-8"
    )
    pipeline = build_pipeline(load_config(ui_env.config))
    assert pipeline.ingest([ui_env.docs]).files_failed == 0
    pipeline.close()
    assert examples(ui_env.app().run()) == ["What is Attention?", "What is LoRA?"]  # no question from it


def test_examples_can_be_set_in_the_config(ui_env: UiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    questions = ["Why is attention quadratic?", "What does LoRA freeze?"]
    config = write_config(
        ui_env.root / "pipelines" / "c-examples.yaml", ui_env.root / "state-a", ui={"example_questions": questions}
    )
    monkeypatch.setenv("RAG_CONFIG", str(config))
    assert examples(ui_env.app().run()) == questions


def test_empty_collection_offers_no_examples(ui_env: UiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CONFIG", str(ui_env.empty_config))
    at = ui_env.app().run()
    assert not at.exception and examples(at) == []


def test_regenerate_answers_the_last_question_again_in_place(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at = ask(at, "And LoRA?")
    regenerate = [b for b in at.main.button if (b.key or "").startswith("regenerate-")]
    assert [b.key for b in regenerate] == ["regenerate-1"]  # the last turn only
    ui_env.generator.pieces = ["LoRA learns a low-rank update [1]."]
    regenerate[0].click().run()
    assert not at.exception
    assert [m.markdown[0].value for m in at.chat_message] == [
        QUESTION,
        "".join(ANSWER).replace("[1]", ":blue-badge[1]"),
        "And LoRA?",
        "LoRA learns a low-rank update :blue-badge[1].",
    ]
    _, second, third = ui_env.generator.calls
    assert third[:-1] == second[:-1]  # the same history: the replaced answer is not part of it
    assert [b.key for b in at.main.button if (b.key or "").startswith("regenerate-")] == ["regenerate-1"]


def test_error_turn_offers_retry(ui_env: UiEnv, ask: Ask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CONFIG", str(ui_env.empty_config))
    at = ask(ui_env.app().run(), QUESTION)
    (retry,) = [b for b in at.main.button if (b.key or "").startswith("regenerate-")]
    assert retry.label == "Retry" and copy_bodies(at) == []  # nothing to copy
    retry.click().run()
    assert len(at.chat_message) == 2 and len(at.error) == 1


def test_copy_button_holds_the_answer_and_its_sources_as_text(ui_env: UiEnv, ask: Ask) -> None:
    ui_env.generator.pieces = ["Attention grows quadratically [1]. </textarea><script>alert(1)</script>"]
    at = ask(ui_env.app().run(), QUESTION)
    (body,) = copy_bodies(at)
    assert "<script>alert(1)" not in body and "&lt;/textarea&gt;&lt;script&gt;" in body
    text = html.unescape(body.split("hidden readonly>", 1)[1].split("</textarea>", 1)[0])
    assert text.startswith("Attention grows quadratically [1].")
    assert text.endswith("\n\nSources:\n[1] attention.md, § Attention")


def test_copy_text_without_citations_is_the_answer() -> None:
    assert copy_text(Answer("Plain.")) == "Plain."
    chunk = Chunk("d:00000", "d", "/x/a.pdf", "t", {"relpath": "a.pdf", "page": 3})
    assert copy_text(Answer("See [1].", citations=[Citation(1, chunk, 0.5)])) == "See [1].\n\nSources:\n[1] a.pdf, p. 3"
