"""What a person reads from `rag ask` and `rag chat` when the answer is streamed.

The generator is the `openai` backend against a local OpenAI-protocol stub on
127.0.0.1 that streams its reply word by word, so the CLI prints real pieces
and then finishes the answer from exactly the text it printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("openai")
pytest.importorskip("fastapi")

from rag_app.cli import app
from tests.conftest import fast_config_dict
from tests.support.openai_stub import OpenAIStub

runner = CliRunner()
QUESTION = "How does attention scale with sequence length?"


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def config_file(tmp_path: Path, docs_dir: Path, stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> Path:
    stub.reset()
    stub.behaviour.reply = "Self-attention cost grows quadratically with sequence length [1] [7]."
    monkeypatch.setenv("RAG_TEST_STUB_KEY", stub.api_key)
    data = fast_config_dict(tmp_path / "state")
    data["generator"] = {"type": "openai", "params": {
        "model": "stub-chat", "base_url": stub.base_url, "api_key_env": "RAG_TEST_STUB_KEY", "max_retries": 0}}
    data["answer"] = {"min_score": 0.05, "condense_history": False}
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["ingest", "-c", str(path), str(docs_dir)])
    assert result.exit_code == 0, result.output
    return path


def test_ask_prints_the_streamed_answer_then_marks_the_cited_source(config_file: Path) -> None:
    result = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Self-attention cost grows quadratically with sequence length [1] [7]."  # as streamed
    cited = [line for line in lines if line.startswith("*[")]
    assert cited == [next(line for line in lines if "attention.md" in line)]  # the cited source is starred
    assert cited[0].startswith("*[1] attention.md")
    assert "removed citations to sources that were not given: [7]" in result.stdout
    timing = result.stderr.strip().splitlines()[-1]
    first = float(timing.split("first token ")[1].split(" s")[0])
    total = float(timing.split("total ")[1].split(" s")[0])
    assert 0 < first <= total  # first token measured when it came, not at the end


def test_ask_json_shows_the_same_checked_answer(config_file: Path) -> None:
    result = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "Self-attention cost grows quadratically with sequence length [1]."
    assert [c["number"] for c in data["citations"]] == [1] and data["citations"][0]["supported"] is True
    assert data["invalid_citations"] == [7] and not data["abstained"]
    assert data["claims"][0]["supported"] is True


def test_an_answer_cut_at_max_tokens_says_so_in_text_and_json(config_file: Path) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["answer"]["max_tokens"] = 4
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    text = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].strip() == "Self-attention cost grows quadratically"  # the four words it got
    assert "note: the answer stopped at its length limit; raise answer.max_tokens" in text.stdout
    as_json = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"])
    answer = json.loads(as_json.stdout)
    assert answer["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 4  # as the server counted them, not estimated


def test_a_complete_answer_reports_the_servers_usage(config_file: Path, stub: OpenAIStub) -> None:
    answer = json.loads(runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"]).stdout)
    assert answer["finish_reason"] == "stop"
    words = 9  # "Self-attention cost grows quadratically with sequence length [1] [7]."
    assert answer["usage"]["completion_tokens"] == words  # the stub counts one token per word
    assert "length limit" not in runner.invoke(app, ["ask", "-c", str(config_file), QUESTION]).stdout


def test_chat_sends_the_streamed_answer_as_history(config_file: Path, stub: OpenAIStub) -> None:
    result = runner.invoke(app, ["chat", "-c", str(config_file)], input=f"{QUESTION}\nAnd LoRA?\n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("*[1] attention.md") == 1  # first turn's citation marked
    second = stub.requests[-1]["body"]["messages"]
    assistant = [m["content"] for m in second if m["role"] == "assistant"]
    assert assistant == ["Self-attention cost grows quadratically with sequence length [1]."]


def test_an_answer_none_of_whose_sentences_is_supported_is_reported_as_not_in_the_documents(
    config_file: Path, stub: OpenAIStub
) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["answer"]["abstain_unsupported"] = True
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    stub.behaviour.reply = "Pirates invented self-attention in 1492 aboard galleons [1]."
    result = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Pirates invented self-attention in 1492 aboard galleons [1]."  # as streamed
    assert lines[1] == "The documents I have do not contain an answer to that."
    assert "note: No sentence of the generated answer is supported by a retrieved passage" in lines[2]
    assert not any(line.startswith("*[") for line in lines)  # no source offered as its citation
    as_json = json.loads(runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"]).stdout)
    assert as_json["abstained"] and as_json["abstain_reason"] == "unsupported"
    assert as_json["answer"] == "The documents I have do not contain an answer to that."


def test_an_uncited_sentence_no_source_supports_is_flagged_in_text_and_json(
    config_file: Path, stub: OpenAIStub
) -> None:
    stub.behaviour.reply = (
        "Self-attention cost grows quadratically with sequence length [1]. Pirates invented it in 1492."
    )
    result = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION])
    assert result.exit_code == 0, result.output
    assert "unsupported by any source: Pirates invented it in 1492." in result.stdout
    data = json.loads(runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"]).stdout)
    assert [(c["text"], c["supported"]) for c in data["claims"]] == [
        ("Self-attention cost grows quadratically with sequence length.", True),
        ("Pirates invented it in 1492.", False),
    ]
    assert not data["abstained"]  # one supported sentence: answered, the other one flagged


def test_an_answer_the_judge_barely_lets_through_is_flagged_in_text_and_json(
    config_file: Path, stub: OpenAIStub
) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["answer"]["judge"] = {"threshold": 0.5, "caution": 0.8}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    stub.behaviour.p_yes = 0.6
    result = runner.invoke(app, ["ask", "-c", str(config_file), QUESTION])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Self-attention cost grows quadratically with sequence length [1] [7]."  # answered
    (note,) = [line for line in lines if "low confidence" in line]
    assert note.startswith("  note: low confidence (P(answerable) 0.60). The passages may not fully answer")
    data = json.loads(runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"]).stdout)
    assert data["low_confidence"] is True and data["answerable"] == pytest.approx(0.6)
    assert not data["abstained"]
    timing = result.stderr.strip().splitlines()[-1]  # the judge's pass is part of the wait for the first token
    judge = float(timing.split("judge ")[1].split(" s")[0])
    first = float(timing.split("first token ")[1].split(" s")[0])
    assert timing.startswith("retrieval ") and 0 < judge <= first
    stub.behaviour.p_yes = 0.95  # above the caution: no note
    assert "low confidence" not in runner.invoke(app, ["ask", "-c", str(config_file), QUESTION]).stdout
    confident = json.loads(runner.invoke(app, ["ask", "-c", str(config_file), QUESTION, "--json"]).stdout)
    assert confident["low_confidence"] is False
