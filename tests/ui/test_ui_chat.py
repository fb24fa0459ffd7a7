"""Chat page: streamed answers with citation chips, abstention, errors, config switching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from rag_app.pipeline import Pipeline
from rag_app.ui import state
from tests.ui.conftest import ANSWER, UiEnv, write_config

Ask = Callable[[AppTest, str], AppTest]
QUESTION = "How does attention scale with sequence length?"


def popovers(at: AppTest) -> list[Any]:
    return list(at.get("popover"))


def element_types(node: Any) -> Iterator[str]:
    """The types of the elements under ``node``, in page order."""
    children = getattr(node, "children", None)
    if children is None:
        yield node.type
        return
    for child in children.values():
        yield from element_types(child)


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_answer_is_rendered_with_citation_chip_sources_and_timings(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    assert not at.exception
    user, assistant = at.chat_message
    assert user.name == "user" and user.markdown[0].value == QUESTION
    assert assistant.name == "assistant"
    answer = assistant.markdown[0].value
    assert answer == "Attention grows quadratically :blue-badge[1]."
    (chip,) = popovers(at)
    assert chip.proto.popover.label == "[1] attention.md ✓"  # the check found the claim in source 1
    chip_text = texts(chip.markdown)
    assert "attention.md" in chip_text and "quadratically with sequence length" in chip_text
    assert "score" in texts(chip.caption)
    assert "supports: “Attention grows quadratically.”" in texts(chip.caption)
    timings = texts(assistant.caption)
    assert "retrieval" in timings and "first token" in timings and "total" in timings
    assert not at.error and not at.warning
    # the question reached the generator with the retrieved source in the prompt
    (messages,) = ui_env.generator.calls
    assert QUESTION in messages[-1].content and "quadratically" in messages[0].content + messages[-1].content


def test_an_answer_cut_at_its_length_limit_says_so(ui_env: UiEnv, ask: Ask) -> None:
    ui_env.generator.finish_reason = "length"
    at = ask(ui_env.app().run(), QUESTION)
    assert not at.exception
    _, assistant = at.chat_message
    assert "The answer stopped at its length limit; raise answer.max_tokens" in texts(assistant.caption)
    ui_env.generator.finish_reason = "stop"
    at = ask(at, QUESTION)
    assert texts(at.chat_message[-1].caption).count("length limit") == 0


def test_history_is_passed_to_the_pipeline_and_new_conversation_clears_it(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at = ask(at, "And what does LoRA learn?")
    assert len(at.chat_message) == 4
    second = ui_env.generator.calls[1]
    assert [m.role for m in second[-3:]] == ["user", "assistant", "user"]
    assert second[-3].content == QUESTION and second[-2].content == "".join(ANSWER)
    assert len(popovers(at)) == 2  # both turns keep their chips on rerun
    at.sidebar.button[0].click().run()
    assert len(at.chat_message) == 0


def test_invalid_citation_is_flagged_and_removed(ui_env: UiEnv, ask: Ask) -> None:
    ui_env.generator.pieces = ["Attention ", "is quadratic ", "[1]", " [7]", "."]
    at = ask(ui_env.app().run(), QUESTION)
    assert at.chat_message[1].markdown[0].value == "Attention is quadratic :blue-badge[1]."
    (warning,) = at.warning
    assert "[7]" in warning.value and "removed" in warning.value


def test_unsupported_citation_is_removed_and_the_claim_flagged(ui_env: UiEnv, ask: Ask) -> None:
    ui_env.generator.pieces = ["Attention grows quadratically [1]. ", "LoRA was invented in 1850 by pirates [1]."]
    at = ask(ui_env.app().run(), QUESTION)
    answer = at.chat_message[1].markdown[0].value
    assert answer == "Attention grows quadratically :blue-badge[1]. LoRA was invented in 1850 by pirates."
    removed, flagged = at.warning
    assert "Removed [1]" in removed.value and "does not support" in removed.value
    assert "Not supported by any source" in flagged.value and "1850 by pirates" in flagged.value


def test_an_uncited_sentence_no_source_supports_is_flagged(ui_env: UiEnv, ask: Ask) -> None:
    ui_env.generator.pieces = ["Attention grows quadratically [1]. ", "LoRA was invented in 1850 by pirates."]
    at = ask(ui_env.app().run(), QUESTION)
    assert at.chat_message[1].markdown[0].value == (
        "Attention grows quadratically :blue-badge[1]. LoRA was invented in 1850 by pirates."
    )
    (flagged,) = at.warning
    assert "Not supported by any source" in flagged.value and "1850 by pirates" in flagged.value


def test_abstention_looks_different_and_skips_generation(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), "Purple elephants dancing")
    assert not at.exception
    (info,) = at.info
    assert "do not contain an answer" in info.value
    assert info.proto.title == "No answer in your documents"
    assert not popovers(at) and not at.error
    assert ui_env.generator.calls == []


def test_retrieved_chunks_toggle(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    assert not at.expander or all("Retrieved" not in e.label for e in at.expander)
    at.sidebar.toggle(key="show_chunks").set_value(True).run()
    (chunks,) = [e for e in at.expander if e.label.startswith("Retrieved chunks")]
    assert "quadratically" in texts(chunks.markdown)


def test_top_k_knob_limits_the_sources(ui_env: UiEnv, ask: Ask) -> None:
    at = ui_env.app().run()
    at.sidebar.slider(key="top_k").set_value(1).run()
    at = ask(at, QUESTION)
    at.sidebar.toggle(key="show_chunks").set_value(True).run()
    (chunks,) = [e for e in at.expander if e.label.startswith("Retrieved chunks")]
    assert chunks.label == "Retrieved chunks (1)"


def test_document_filter_restricts_retrieval(ui_env: UiEnv, ask: Ask, monkeypatch: pytest.MonkeyPatch) -> None:
    # same store as the default config, but no min_score: the filtered-out best match cannot make it abstain
    loose = write_config(ui_env.root / "pipelines" / "c-loose.yaml", ui_env.root / "state-a", answer={})
    monkeypatch.setenv("RAG_CONFIG", str(loose))
    at = ui_env.app().run()
    picker = at.sidebar.multiselect(key="only_documents")
    lora = next(o for o in picker.options if o.endswith("lora.md"))
    picker.select(lora).run()
    ui_env.generator.pieces = ["LoRA freezes the pretrained weights [1]."]
    at = ask(at, QUESTION)
    (chip,) = popovers(at)
    assert chip.proto.popover.label == "[1] lora.md ✓"


def test_switching_config_uses_the_other_pipeline_and_shows_a_friendly_error(ui_env: UiEnv, ask: Ask) -> None:
    at = ui_env.app().run()
    picker = at.sidebar.selectbox(key="config_picker")
    assert [Path(o).name for o in picker.options] == ["a-handbook.yaml", "b-empty.yaml"]
    picker.select(ui_env.empty_config.resolve()).run()
    assert "empty" in texts(at.caption)
    at = ask(at, QUESTION)
    assert not at.exception
    (error,) = at.error
    assert "nothing has been ingested" in error.value and "\n" not in error.value
    assert "Traceback" not in error.value
    assert at.get("page_link"), "a link to the Documents page is offered"
    # switching back answers from the ingested collection again
    at.sidebar.selectbox(key="config_picker").select(ui_env.config.resolve()).run()
    at = ask(at, QUESTION)
    assert len(popovers(at)) == 1


def test_invalid_config_is_one_line_in_the_page(ui_env: UiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ui_env.root / "pipelines" / "c-bad.yaml"
    bad.write_text("name: bad\nchunker: {type: recursive}\nembedder: {type: hashing}\nstore: {type: nope}\n")
    monkeypatch.setenv("RAG_CONFIG", str(bad))
    at = ui_env.app().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Cannot use c-bad.yaml: unknown store type 'nope'")
    assert at.chat_input[0].disabled


def test_pipeline_is_built_once_across_reruns(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), QUESTION)
    at = ask(at, "And LoRA?")
    at.sidebar.toggle(key="show_chunks").set_value(True).run()
    assert len(ui_env.generator.calls) == 2
    assert ui_env.generator.built == 1  # one pipeline (each build makes its generator)


def test_pool_closes_a_pipeline_sharing_the_same_store(ui_env: UiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    twin = ui_env.root / "pipelines" / "twin.yaml"
    twin.write_text(ui_env.config.read_text().replace("name: handbook", "name: twin"))
    closed: list[str] = []

    def get(path: Path) -> Pipeline:
        pipeline = pool.get(path)
        monkeypatch.setattr(pipeline, "close", lambda: closed.append(pipeline.config.name))
        return pipeline

    pool = state.PipelinePool()
    first = get(ui_env.config)
    assert pool.get(ui_env.config) is first
    get(ui_env.empty_config)  # another store: both stay open
    assert closed == []
    get(twin)  # same memory-store folder as the first: the first is closed
    assert closed == ["handbook"]
    pool.close_all()
    assert sorted(closed) == ["empty", "handbook", "twin"]


def test_an_answer_the_judge_barely_lets_through_is_shown_with_a_caution(ui_env: UiEnv, ask: Ask) -> None:
    data = yaml.safe_load(ui_env.config.read_text(encoding="utf-8"))
    data["answer"]["judge"] = {"threshold": 0.5, "caution": 0.8}
    ui_env.config.write_text(yaml.safe_dump(data), encoding="utf-8")
    ui_env.generator.p_yes = 0.6
    at = ask(ui_env.app().run(), QUESTION)
    assert not at.exception
    _, assistant = at.chat_message
    assert assistant.markdown[0].value == "Attention grows quadratically :blue-badge[1]."  # still answered
    (caution,) = at.warning
    assert "may not fully answer this question" in caution.value and "check the cited sources" in caution.value
    kinds = list(element_types(assistant))
    assert kinds.index("warning") < kinds.index("markdown")  # read before the answer text
    ui_env.generator.p_yes = 0.95
    at = ask(at, QUESTION)
    assert not at.exception and len(at.warning) == 1  # only the first turn carries it
