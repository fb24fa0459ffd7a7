"""Grounded prompting, citation parsing, templates, condensing, abstention and stop handling (no models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_app.backends.generators.stops import StopBuffer, cut_at_stop, filter_stream
from rag_app.errors import ConfigError
from rag_app.generation import (
    ABSTAIN_MESSAGE,
    build_messages,
    condense_question,
    load_template,
    parse_citations,
    parse_template,
    should_abstain,
    template_names,
)
from rag_app.generation.prompt import render_sources
from rag_app.protocols import Generator
from rag_app.types import Chunk, Message, ScoredChunk
from tests.support.fake_generator import CannedGenerator


def hit(n: int, text: str | None = None, score: float | None = None, **meta: object) -> ScoredChunk:
    chunk = Chunk(f"doc{n}:0", f"doc{n}", f"/abs/doc{n}.md", text or f"Fact number {n} is here.", dict(meta))
    return ScoredChunk(chunk, 1.0 - n / 100 if score is None else score)


def words(text: str) -> int:
    return len(text.split())


SOURCES = [hit(1), hit(2), hit(3)]


# --- citations ----------------------------------------------------------------------------------


def test_valid_citations_in_first_appearance_order_deduplicated() -> None:
    text, cites, invalid = parse_citations("B is true [2]. A is true [1]. B again [2][1].", SOURCES)
    assert text == "B is true [2]. A is true [1]. B again [2][1]."
    assert [c.number for c in cites] == [2, 1] and invalid == []
    assert cites[0].chunk is SOURCES[1].chunk and cites[0].score == SOURCES[1].score


def test_invented_number_removed_and_flagged() -> None:
    text, cites, invalid = parse_citations("Paris is big [9]. It is old [1].", SOURCES)
    assert text == "Paris is big. It is old [1]."
    assert [c.number for c in cites] == [1] and invalid == [9]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("word [9] next", "word next"),
        ("[9] Starts here.", "Starts here."),
        ("Ends here [9]", "Ends here"),
        ("Both [8][9], then", "Both, then"),
        ("Both [8] [9] and more", "Both and more"),
        ("line one [7]\nline two", "line one\nline two"),
        ("keep [1] [9] gone", "keep [1] gone"),
    ],
)
def test_removing_invalid_markers_leaves_no_double_spaces(raw: str, clean: str) -> None:
    assert parse_citations(raw, SOURCES)[0] == clean


def test_lists_and_ranges() -> None:
    text, cites, invalid = parse_citations("See [1, 3] and [2-3] and [1;2].", SOURCES)
    assert text == "See [1, 3] and [2-3] and [1;2]."
    assert [c.number for c in cites] == [1, 3, 2] and invalid == []


def test_lists_and_ranges_keep_only_valid_numbers() -> None:
    text, cites, invalid = parse_citations("A [2, 9]. B [2–5]. C [0].", SOURCES)
    assert text == "A [2]. B [2, 3]. C."
    assert [c.number for c in cites] == [2, 3] and invalid == [9, 4, 5, 0]


def test_non_citation_brackets_are_left_alone() -> None:
    raw = "Use x[i], [a], the year [2019], a span [1990-2020], [1-200] and [ ] here."
    assert parse_citations(raw, SOURCES) == (raw, [], [])


def test_no_sources_makes_every_number_invalid() -> None:
    assert parse_citations("Claim [1].", []) == ("Claim.", [], [1])


# --- prompt building ----------------------------------------------------------------------------


def test_sources_numbered_in_rank_order_without_a_copyable_location_header() -> None:
    hits = [hit(1, "Alpha is first.", relpath="a.md", section="Intro"), hit(2, "Beta is second.", page=3)]
    messages, used = build_messages("Why?", hits, count_tokens=words, context_budget_tokens=None)
    assert used == hits
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[-1].content
    assert user.index("[1] Alpha is first.") < user.index("[2] Beta is second.")
    assert "a.md" not in user and "p. 3" not in user and "Intro" not in user  # nothing to copy as a citation
    assert "Question: Why?" in user
    assert user.rstrip().endswith("like this: [1].")  # the citation cue comes last (measured)


def test_a_custom_template_can_still_show_locations() -> None:
    tpl = parse_template("[user]\n{sources}\nQ: {question}\n[source]\n({number}) {location}: {text}")
    hits = [hit(1, relpath="a.md", section="Intro"), hit(2, page=3)]
    messages, _ = build_messages("Why?", hits, template=tpl, count_tokens=words, context_budget_tokens=None)
    assert "(1) a.md, § Intro: Fact number 1" in messages[-1].content
    assert "(2) /abs/doc2.md, p. 3: Fact number 2" in messages[-1].content


def test_budget_drops_lowest_ranked_whole_chunks() -> None:
    long = "word " * 40
    hits = [hit(1, long), hit(2, long), hit(3, "short text")]
    tpl = load_template("grounded")
    one = words(render_sources(hits[:1], tpl))
    _, used = build_messages("q", hits, template=tpl, count_tokens=words, context_budget_tokens=one + 10)
    assert used == hits[:1]  # #3 would fit, but dropping goes from the lowest rank up: no gaps
    _, used = build_messages("q", hits, template=tpl, count_tokens=words, context_budget_tokens=10_000)
    assert used == hits


def test_budget_never_truncates_a_chunk() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    messages, used = build_messages(
        "q", [hit(1, text), hit(2, text)], count_tokens=words, context_budget_tokens=150
    )
    assert len(used) == 1
    assert text in messages[-1].content and messages[-1].content.count("w99") == 1


def test_top_chunk_kept_whole_even_if_over_budget(caplog: pytest.LogCaptureFixture) -> None:
    text = "x " * 50
    messages, used = build_messages("q", [hit(1, text)], count_tokens=words, context_budget_tokens=5)
    assert len(used) == 1 and text.strip() in messages[-1].content
    assert "over the context budget" in caplog.text


def test_history_goes_between_system_and_question() -> None:
    history = [Message("user", "What is LoRA?"), Message("assistant", "A fine-tuning method [1].")]
    messages, _ = build_messages(
        "And QLoRA?", SOURCES, history=history, count_tokens=words, context_budget_tokens=None
    )
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:3] == history and "And QLoRA?" in messages[-1].content


def test_chunk_text_with_braces_is_not_formatted() -> None:
    messages, _ = build_messages(
        "q", [hit(1, "a dict {x} and {{y}}")], count_tokens=words, context_budget_tokens=None
    )
    assert "a dict {x} and {{y}}" in messages[-1].content


# --- templates ----------------------------------------------------------------------------------


def test_shipped_templates_load_by_name() -> None:
    assert {"grounded", "concise"} <= set(template_names()) and "condense" not in template_names()
    for name in ("grounded", "concise"):
        tpl = load_template(name)
        assert tpl.name == name and "{question}" in tpl.user and "{sources}" in tpl.system + tpl.user


def test_template_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("# comment\n[user]\nQ: {question}\nDocs:\n{sources}\n[source]\n<{number}> {text}\n")
    tpl = load_template("mine.txt", base_dir=tmp_path)
    assert tpl.system == "" and tpl.source == "<{number}> {text}"
    messages, _ = build_messages(
        "why", [hit(1)], template=tpl, count_tokens=words, context_budget_tokens=None
    )
    assert messages == [Message("user", "Q: why\nDocs:\n<1> Fact number 1 is here.")]
    assert load_template(str(path)).user == tpl.user


def test_unknown_template_name_lists_valid_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown prompt template 'fancy'; valid templates: .*concise.*grounded"
    ):
        load_template("fancy")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[system]\nhi {question}\n", "missing the \\[user\\] section"),
        ("[user]\n{question} {colour}\n", "unknown field"),
        ("[user]\n{sources}\n", "needs a \\{question\\} field"),
        ("intro\n[user]\n{question}\n", "text before the first"),
        ("[user]\n{question} {\n", "bad braces"),
    ],
)
def test_malformed_templates_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_template(text)


def test_missing_template_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read prompt template"):
        load_template(str(tmp_path / "nope.txt"))


# --- condense & abstain -------------------------------------------------------------------------


def test_condense_passthrough_on_empty_history() -> None:
    gen = CannedGenerator("unused")
    assert isinstance(gen, Generator)
    assert condense_question("What is LoRA?", [], gen) == "What is LoRA?"
    assert gen.calls == []


def test_condense_uses_the_generator_with_history() -> None:
    gen = CannedGenerator('\n"Standalone question: How is QLoRA different from LoRA?"\nextra')
    history = [Message("user", "What is LoRA?"), Message("assistant", "Low-rank adaptation [1].")]
    assert condense_question("How is the Q version different?", history, gen) == (
        "How is QLoRA different from LoRA?"
    )
    prompt = gen.calls[0][-1].content
    assert "User: What is LoRA?" in prompt and "How is the Q version different?" in prompt


def test_condense_keeps_question_when_model_returns_nothing() -> None:
    history = [Message("user", "hi")]
    assert condense_question("and then?", history, CannedGenerator("  \n ")) == "and then?"


def test_should_abstain() -> None:
    assert should_abstain([], None) and should_abstain([], 0.1)
    assert not should_abstain([hit(1, score=0.2)], None)
    assert should_abstain([hit(1, score=0.2), hit(2, score=0.25)], 0.3)
    assert not should_abstain([hit(1, score=0.2), hit(2, score=0.35)], 0.3)
    assert ABSTAIN_MESSAGE.startswith("The documents I have do not contain")


def test_should_abstain_uses_the_dense_similarity_of_fused_hits() -> None:
    from dataclasses import replace

    fused_top = replace(hit(1, score=1.9), scores={"dense": 0.12, "bm25": 7.0})
    assert should_abstain([fused_top], 0.3)  # a fused score of 1.9 says nothing about relevance
    assert not should_abstain([replace(fused_top, scores={"dense": 0.5})], 0.3)


# --- stop sequences -----------------------------------------------------------------------------


def test_cut_at_stop_takes_the_earliest() -> None:
    assert cut_at_stop("abc END x STOP", ["STOP", "END"]) == ("abc ", True)
    assert cut_at_stop("abc", ["zz", ""]) == ("abc", False)


def test_stop_buffer_holds_only_a_possible_prefix() -> None:
    buf = StopBuffer(["</s>"])
    assert buf.push("hello <") == "hello "
    assert buf.push("/") == ""
    assert buf.push("x") == "</x"
    assert buf.push(" bye</") == " bye"
    assert buf.push("s> never") == "" and buf.stopped
    assert buf.flush() == ""


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_filter_stream_matches_cut_for_any_piece_size(size: int) -> None:
    text = "The answer is 42 [1].\nQuestion: next one"
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    assert "".join(filter_stream(pieces, ["\nQuestion:"])) == cut_at_stop(text, ["\nQuestion:"])[0]
    assert "".join(filter_stream(pieces, [])) == text


def test_filter_stream_stops_consuming_at_the_stop() -> None:
    consumed: list[str] = []

    def source() -> Iterator[str]:
        for piece in ["a", "b", "STOP", "c", "d"]:
            consumed.append(piece)
            yield piece

    assert list(filter_stream(source(), ["STOP"])) == ["a", "b"]
    assert consumed == ["a", "b", "STOP"]
