"""Answer evaluation: scoring rules on hand-made answers, suite validation, `rag eval` runs, compare, studies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli.eval import app
from rag_app.errors import ConfigError
from rag_app.evaluation.answer_metrics import aggregate, by_kind, counts
from rag_app.evaluation.answer_scoring import contains, normalise, score_answer, split_sentences
from rag_app.evaluation.answer_suite import AnswerSuite, parse_answer_suite
from rag_app.evaluation.answers import AnswerDataset, GoldQuestion, read_questions
from rag_app.evaluation.suite import load_suite
from rag_app.types import Answer, Chunk, Citation, ScoredChunk
from tests.conftest import REPO, fast_config_dict

runner = CliRunner()

# ---- scoring on hand-made answers ------------------------------------------------------------


def chunk(n: int, relpath: str, text: str) -> ScoredChunk:
    return ScoredChunk(Chunk(f"c{n}", f"d{n}", f"/corpus/{relpath}", text, {"relpath": relpath}), 1.0 / n)


SOURCES = [
    chunk(1, "tokenisation/bpe.md", "GPT-2's vocabulary has 50,257 entries built with byte-level BPE."),
    chunk(2, "training/lora.md", "LoRA learns a low-rank update of frozen weights."),
    chunk(3, "tokenisation/bpe.md", "Merges are learned from pair counts."),
]
GOLD = GoldQuestion(
    "a001",
    "How big is the GPT-2 vocabulary and how is it built?",
    True,
    facts=(("50,257", "50257"), ("byte-level",)),
    sources=("tokenisation/bpe.md",),
    kind="number",
)
UNANSWERABLE = GoldQuestion("u001", "What is the GPT-5 vocabulary size?", False, kind="near_miss")
DATASET = AnswerDataset("toy", Path("/gold"), Path("/corpus"), [GOLD, UNANSWERABLE], {"corpus": "x"}, 2)


@dataclass(frozen=True)
class CheckedCitation:
    """A citation carrying the pipeline's own verdict (works whether or not Citation has `supported`)."""

    number: int
    chunk: Chunk
    score: float
    supported: bool | None = None


def answer(text: str, cited: list[int] | None = None, *, supported: dict[int, bool] | None = None) -> Answer:
    numbers = cited if cited is not None else []
    flags = supported or {}
    citations: list[Any] = [
        CheckedCitation(n, SOURCES[n - 1].chunk, SOURCES[n - 1].score, flags.get(n))
        if n in flags
        else Citation(n, SOURCES[n - 1].chunk, SOURCES[n - 1].score)
        for n in numbers
    ]
    return Answer(text=text, citations=citations, sources=list(SOURCES))


def score(gold: GoldQuestion, ans: Answer) -> dict[str, Any]:
    return score_answer(gold, ans, DATASET, ttft_s=0.1, total_s=0.5).as_dict()


def test_normalisation_matches_numbers_dashes_superscripts_and_case() -> None:
    text = normalise("GPT‑2 has 50,257 Byte-Level tokens [1]; lr 10⁻⁴, x² and 1 000 000 (thin: 1\u202f000).")
    assert contains(text, "50257") and contains(text, "50,257") and contains(text, "byte level")
    assert contains(text, "GPT-2") and contains(text, "10^-4") and contains(text, "x^2") and contains(text, "1000")
    assert "[1]" not in text and text == text.lower()
    assert not contains(normalise("it has 120 layers"), "12")  # no digit run-on
    assert not contains(normalise("about 0.15"), "0.1")
    assert contains(normalise("two layers"), "layer")  # a fact may be a word stem
    assert not contains(normalise("robertas"), "bert")  # but it starts at a word boundary


def test_sentences_keep_their_markers() -> None:
    text = "First fact [1]. Second fact. [2] Third, e.g. this one [1-2].\n[3]\n- A bullet [1, 3]"
    assert split_sentences(text) == [
        "First fact [1].",
        "Second fact. [2]",  # a marker right after the full stop ends the sentence before it
        "Third, e.g. this one [1-2]. [3]",  # a line of markers only belongs to the sentence before
        "- A bullet [1, 3]",
    ]


def test_correct_needs_every_fact_and_fact_recall_counts_them() -> None:
    right = score(GOLD, answer("It has 50257 entries, built with byte-level BPE [1].", [1]))
    assert right["values"]["correct"] == 1.0 and right["values"]["fact_recall"] == 1.0
    assert right["facts_found"] == ["50,257", "byte-level"] and right["facts_missing"] == []
    half = score(GOLD, answer("It has 50,257 entries [1].", [1]))
    assert half["values"]["correct"] == 0.0 and half["values"]["fact_recall"] == 0.5
    assert half["facts_missing"] == [["byte-level"]]
    wrong = score(GOLD, answer("It has 32,000 entries [1].", [1]))
    assert wrong["values"]["correct"] == 0.0 and wrong["values"]["fact_recall"] == 0.0


def test_citation_precision_judges_each_sentence_and_cited_number() -> None:
    text = (
        "The vocabulary has 50,257 entries [1][2]. "  # fact sentence: [1] holds the fact, [2] does not
        "Merges come from pair counts [3]. "  # no fact: [3] is an expected source file
        "LoRA is unrelated [2]."  # no fact: [2] is not an expected source
    )
    result = score(GOLD, answer(text, [1, 2, 3], supported={1: True, 2: False, 3: True}))
    assert (result["pairs_total"], result["pairs_correct"]) == (4, 2)
    assert result["values"]["citation_precision"] == 0.5 and result["values"]["cited"] == 1.0
    by_number = {c["number"]: c for c in result["citations"]}
    assert by_number[1]["correct"] and by_number[3]["correct"] and not by_number[2]["correct"]
    assert by_number[2]["pairs"] == 2 and by_number[2]["relpath"] == "training/lora.md"
    assert [by_number[n]["supported"] for n in (1, 2, 3)] == [True, False, True]  # the pipeline's own verdict
    assert result["values"]["source_in_prompt"] == 1.0

    uncited = score(GOLD, answer("50,257 byte-level entries.", []))
    assert uncited["values"]["cited"] == 0.0 and "citation_precision" not in uncited["values"]
    assert uncited["values"]["correct"] == 1.0  # correct, but not cited: two separate numbers


def test_abstention_and_false_abstention() -> None:
    abstained = Answer(text="The documents I have do not contain an answer to that.", abstained=True)
    refused = score(UNANSWERABLE, abstained)
    assert refused["values"]["abstention"] == 1.0 and set(refused["values"]) == {"abstention", "ttft_s", "total_s"}
    answered = score(UNANSWERABLE, answer("It has 50,257 entries [1].", [1]))
    assert answered["values"]["abstention"] == 0.0 and answered["pairs_total"] == 0  # not in citation precision
    false = score(GOLD, abstained)
    assert false["values"]["false_abstention"] == 1.0
    assert false["values"]["correct"] == 0.0 and false["values"]["cited"] == 0.0
    assert "citation_precision" not in false["values"] and false["values"]["source_in_prompt"] == 0.0


def test_aggregates_micro_macro_and_populations() -> None:
    records = [
        score(GOLD, answer("It has 50,257 byte-level entries [1].", [1], supported={1: True})),  # 1/1
        score(GOLD, answer("50,257 [1][2]. Byte-level [2]. LoRA [2]. Pairs [3].", [1, 2, 3])),  # 2/5
        score(GOLD, Answer(text="not in the documents", abstained=True)),
        score(UNANSWERABLE, Answer(text="not in the documents", abstained=True)),
    ]
    metrics, missing = aggregate(records)
    assert metrics["citation_precision"] == pytest.approx(3 / 6)  # micro: all pairs pooled
    assert metrics["citation_precision_macro"] == pytest.approx((1 + 2 / 5) / 2)
    assert metrics["cited"] == pytest.approx(2 / 3)  # over every answerable question, abstentions count 0
    assert metrics["correct"] == pytest.approx(2 / 3) and metrics["false_abstention"] == pytest.approx(1 / 3)
    assert metrics["abstention"] == 1.0 and metrics["pipeline_supported_rate"] == 1.0
    assert metrics["ttft_p50_s"] == pytest.approx(0.1) and metrics["total_p95_s"] == pytest.approx(0.5)
    assert list(missing) == ["flagged_wrong"]  # no answer carried the low-confidence flag
    assert missing["flagged_wrong"].startswith("no answer was flagged")
    only_answerable, missing = aggregate(records[:1])
    assert "abstention" not in only_answerable and missing["abstention"] == "no unanswerable questions"
    kinds = by_kind(records)
    assert kinds["number"]["correct"] == pytest.approx(2 / 3) and kinds["near_miss"]["abstention"] == 1.0


def test_wrong_answers_among_flagged_and_unflagged_ones() -> None:
    def flagged(ans: Answer) -> Answer:
        ans.low_confidence = True
        return ans

    records = [
        score(GOLD, flagged(answer("It has 50,257 byte-level entries [1].", [1]))),  # flagged, right
        score(UNANSWERABLE, flagged(answer("It has 50,257 entries [1].", [1]))),  # flagged, should have refused
        score(GOLD, flagged(answer("It has 30,000 entries [1].", [1]))),  # flagged, wrong
        score(GOLD, answer("It has 50,257 byte-level entries [1].", [1])),  # unflagged, right
        score(GOLD, answer("It has 50,257 entries [1].", [1])),  # unflagged, a key fact missing
        score(UNANSWERABLE, Answer(text="not in the documents", abstained=True)),  # refused: in neither
    ]
    metrics, missing = aggregate(records)
    assert metrics["flagged_wrong"] == pytest.approx(2 / 3) and metrics["unflagged_wrong"] == pytest.approx(1 / 2)
    assert "flagged_wrong" not in missing and counts(records)["low_confidence"] == 3


def test_answer_extras_are_recorded() -> None:
    @dataclass
    class RicherAnswer(Answer):
        verdict: str = "checked"

    result = score(GOLD, RicherAnswer(text="50,257 byte-level", verdict="judge said yes"))
    assert result["extra"]["verdict"] == "judge said yes"


# ---- gold files and suites --------------------------------------------------------------------

QUESTIONS = [
    {
        "id": "a1",
        "question": "Why does the cost of self-attention grow with sequence length?",
        "answerable": True,
        "facts": [["quadratically"]],
        "sources": ["attention.md"],
        "kind": "concept",
    },
    {
        "id": "a2",
        "question": "What does LoRA learn for each adapted layer of the pretrained weights?",
        "answerable": True,
        "facts": [["low-rank update", "low rank update"]],
        "sources": ["lora.md"],
        "kind": "concept",
    },
    {
        "id": "a3",
        "question": "Which statistics does BM25 use to rank documents?",
        "answerable": True,
        "facts": [["term frequency"], ["inverse document frequency"]],
        "sources": ["notes/bm25.txt"],
        "kind": "fact",
    },
    {"id": "u1", "question": "Capital of Peru?", "answerable": False, "kind": "off_topic", "why": "not in the docs"},
]


def write_gold(root: Path, questions: list[dict[str, Any]] | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rows = questions if questions is not None else QUESTIONS
    (root / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in rows) + "\n", encoding="utf-8")


def write_answer_suite(tmp: Path, docs: Path, **changes: Any) -> Path:
    (tmp / "pipelines").mkdir(exist_ok=True)
    config = {**fast_config_dict(tmp / "user-index"), "generator": {"type": "extractive"}}
    (tmp / "pipelines" / "fast.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    if not (tmp / "answers-gold").exists():
        write_gold(tmp / "answers-gold")
    suite: dict[str, Any] = {
        "name": "toy-answers",
        "dataset": {"type": "answers", "path": "answers-gold", "corpus": str(docs)},
        "pipelines": [{"label": "fast", "config": "pipelines/fast.yaml"}],
        "warmup": False,
    }
    suite.update(changes)
    path = tmp / "answers.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def run(tmp: Path, suite: Path, *extra: str, plots: bool = False) -> Any:
    args = [str(suite), "--reports-dir", str(tmp / "reports"), "--cache-dir", str(tmp / "cache"), *extra]
    return runner.invoke(app, [*args, *([] if plots else ["--no-plots"])])


def reports(tmp: Path) -> list[Path]:
    return sorted((tmp / "reports").iterdir())


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "x", "question": "q?", "answerable": True, "facts": []}, "has no 'facts'"),
        ({"id": "x", "question": "q?", "answerable": True, "facts": [[]]}, "non-empty list"),
        ({"id": "x", "question": "q?", "answerable": "yes"}, "true or false"),
        ({"id": "x", "question": "q?", "answerable": True, "facts": ["f"], "sources": ["nope.md"]}, "not a file"),
        ({"question": "q?", "answerable": False}, "needs an 'id'"),
    ],
)
def test_gold_file_errors_name_the_line(tmp_path: Path, docs_dir: Path, row: dict[str, Any], message: str) -> None:
    write_gold(tmp_path, [QUESTIONS[0], row])
    with pytest.raises(ConfigError, match=message) as info:
        read_questions(tmp_path / "questions.jsonl", docs_dir)
    assert "questions.jsonl:2:" in str(info.value)
    write_gold(tmp_path, [QUESTIONS[0], QUESTIONS[0]])
    with pytest.raises(ConfigError, match="duplicate id 'a1'"):
        read_questions(tmp_path / "questions.jsonl", docs_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fail_under": {"corect": 0.7}}, "unknown answer metric 'corect' for fail_under; valid: correct, fact_recall"),
        ({"fail_under": {"false_abstention": 0.1}}, "is lower-is-better: gate it with fail_over"),
        ({"fail_over": {"ttft_p50": 4}}, "valid: false_abstention, ttft_p50_s"),
        (
            {"pipelines": [{"label": "fast", "config": "pipelines/fast.yaml", "fail_over": {"correct": 1}}]},
            "fail_under",
        ),
        ({"questions": {"limt": 3}}, "unknown key 'questions.limt' (valid keys: limit, sample, ids, seed)"),
        ({"metrics": ["ndcg"]}, "unknown key 'metrics' (valid keys: name, description, dataset, pipelines"),
        ({"dataset": {"type": "answers", "path": "g"}}, "missing required key 'dataset.corpus'"),
    ],
)
def test_answer_suite_validation_is_one_line(
    tmp_path: Path, docs_dir: Path, change: dict[str, Any], message: str
) -> None:
    suite = write_answer_suite(tmp_path, docs_dir, **change)
    with pytest.raises(ConfigError) as info:
        load_suite(suite)
    assert message in str(info.value) and "\n" not in str(info.value)
    result = run(tmp_path, suite)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output


def test_a_pipeline_without_a_generator_fails_at_load(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir)
    (tmp_path / "pipelines" / "bare.yaml").write_text(yaml.safe_dump(fast_config_dict(tmp_path)), encoding="utf-8")
    data = yaml.safe_load(suite.read_text())
    data["pipelines"].append({"label": "bare", "config": "pipelines/bare.yaml"})
    with pytest.raises(ConfigError, match=r"pipeline 'bare' \(.*bare.yaml\) has no generator; an answer suite") as info:
        parse_answer_suite(data, base_dir=tmp_path, origin="answers.yaml")
    assert "\n" not in str(info.value)
    data["pipelines"][1]["overrides"] = {"generator": {"type": "extractive"}}  # an override can supply one
    assert isinstance(parse_answer_suite(data, base_dir=tmp_path), AnswerSuite)
    suite.write_text(yaml.safe_dump({**data, "pipelines": [{"label": "bare", "config": "pipelines/bare.yaml"}]}))
    result = run(tmp_path, suite)
    assert result.exit_code == 2 and "has no generator" in result.output and "Traceback" not in result.output


def test_shipped_answer_suites_validate() -> None:
    for name in ("answers.yaml", "answers-smoke.yaml"):
        suite = load_suite(REPO / "eval" / "suites" / name)
        assert isinstance(suite, AnswerSuite) and suite.fail_under and suite.fail_over
    full = load_suite(REPO / "eval" / "suites" / "answers.yaml")
    assert isinstance(full, AnswerSuite)
    assert full.fail_over == {"false_abstention": 0.1, "ttft_p50_s": 4, "total_p50_s": 10}


# ---- whole runs through the CLI ---------------------------------------------------------------


def test_rag_eval_on_an_answer_suite_writes_every_file_and_prints_gates(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir, fail_under={"fact_recall": 0.5}, fail_over={"ttft_p95_s": 60})
    result = run(tmp_path, suite, plots=True)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "answers-gold: 4 questions (3 answerable, 1 unanswerable)"
    assert "Correct" in lines[1] and "Cit. precision" in lines[1] and "TTFT p50 s" in lines[1]
    assert any(x.startswith("PASS fast: fact_recall = ") and x.endswith(">= 0.5") for x in lines)
    assert any(x.startswith("PASS fast: ttft_p95_s = ") and x.endswith("<= 60") for x in lines)
    assert lines[-1].startswith("report: ") and lines[-1].endswith("report.html")

    (folder,) = reports(tmp_path)
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"metrics.json", "answers.jsonl", "report.md", "report.html", "plots/answer_metrics.png"} <= names
    data = json.loads((folder / "metrics.json").read_text())
    assert data["kind"] == "answers" and data["dataset"]["queries_evaluated"] == 4
    assert {"suite", "git", "machine", "packages", "command", "created_utc", "method", "gates"} <= set(data)
    fast = data["pipelines"]["fast"]
    assert set(fast["per_query"]) == {"a1", "a2", "a3", "u1"}
    assert fast["per_query"]["a1"]["correct"] == 1.0 and fast["per_query"]["a1"]["cited"] == 1.0
    assert fast["metrics"]["correct"] == pytest.approx(
        sum(fast["per_query"][q]["correct"] for q in ["a1", "a2", "a3"]) / 3
    )
    assert {"correct", "citation_precision", "cited", "abstention", "false_abstention", "ttft_p50_s"} <= set(
        fast["metrics"]
    )
    assert fast["counts"]["questions"] == 4 and set(fast["by_kind"]) == {"concept", "fact", "off_topic"}
    assert {"p50", "p95"} <= set(fast["latency_ms"]) and fast["generator"]["type"] == "extractive"
    assert [g["direction"] for g in data["gates"]] == ["fail_under", "fail_over"] and all(
        g["passed"] for g in data["gates"]
    )
    assert not (tmp_path / "user-index").exists()  # the eval collection lives in the cache folder

    rows = [json.loads(x) for x in (folder / "answers.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "u1"] and {r["pipeline"] for r in rows} == {"fast"}
    a1 = rows[0]
    assert "quadratically" in a1["answer"] and a1["facts_found"] == ["quadratically"]
    assert a1["citations"][0]["relpath"] == "attention.md" and a1["citations"][0]["correct"] is True
    assert {"ttft_s", "total_s", "timings", "expected_sources", "prompt_sources", "facts_missing"} <= set(a1)
    md, html = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for text in (md, html):
        assert "Failed questions" in text and "By question kind" in text and "PASS fast: fact_recall" in text
    assert "| pipeline | questions | Correct | Fact recall | Cit. precision |" in md


def test_json_output_limit_and_cache_reuse(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir)
    first = run(tmp_path, suite, "--json", "--limit", "2")
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert set(out) == {"report", "pipelines", "gates"} and "correct" in out["pipelines"]["fast"]
    data = json.loads(Path(out["report"], "metrics.json").read_text())
    assert list(data["pipelines"]["fast"]["per_query"]) == ["a1", "a2"]
    again = run(tmp_path, suite)
    assert again.exit_code == 0 and "fast: cached index" in again.stdout


def test_fail_over_gate_exits_1_and_bad_gate_names_exit_2(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir, fail_over={"total_p50_s": 30})
    failed = run(tmp_path, suite, "--fail-over", "total_p50_s=0", "--fail-under", "correct=0")
    assert failed.exit_code == 1, failed.output
    assert any(x.startswith("FAIL fast: total_p50_s = ") and x.endswith("> 0") for x in failed.stdout.splitlines())
    assert any(x.startswith("PASS fast: correct = ") for x in failed.stdout.splitlines())
    assert [x for x in failed.stderr.splitlines() if x.startswith("gate failed: FAIL fast: total_p50_s")]
    gates = json.loads((reports(tmp_path)[-1] / "metrics.json").read_text())["gates"]
    assert {(g["metric"], g["threshold"], g["passed"]) for g in gates} == {
        ("total_p50_s", 0, False),
        ("correct", 0, True),
    }

    for args, message in (
        (["--fail-over", "ttft=1"], "unknown answer metric 'ttft' for fail_over"),
        (["--fail-under", "ndcg@10=0.5"], "unknown answer metric 'ndcg@10'"),
        (["--fail-over", "correct=0.5"], "is higher-is-better: gate it with fail_under"),
    ):
        bad = run(tmp_path, suite, *args)
        assert bad.exit_code == 2 and message in bad.output and len(bad.output.strip().splitlines()) == 1


def test_unmeasurable_gate_fails(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir, fail_under={"abstention": 0.5}, questions={"ids": ["a1"]})
    result = run(tmp_path, suite)
    assert result.exit_code == 1
    assert "FAIL fast: abstention not measured (see the report), gate >= 0.5" in result.stdout


def test_compare_two_answer_reports_pairs_per_question_values(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_answer_suite(tmp_path, docs_dir)
    assert run(tmp_path, suite).exit_code == 0
    changed = {
        "label": "fast",
        "config": "pipelines/fast.yaml",
        "overrides": {"generator": {"params": {"min_overlap": 3}}},
    }
    assert run(tmp_path, write_answer_suite(tmp_path, docs_dir, pipelines=[changed])).exit_code == 0
    a, b = reports(tmp_path)
    result = runner.invoke(app, ["compare", str(a), str(b), "--resamples", "200"])
    assert result.exit_code == 0, result.output
    rows = {x.split()[1]: x for x in result.stdout.splitlines() if x.startswith("fast ")}
    assert {"correct", "cited", "abstention", "citation_precision", "ttft_p50_s"} <= set(rows)
    assert "delta only" in result.stdout
    data = json.loads(runner.invoke(app, ["compare", str(a), str(b), "--json", "--resamples", "200"]).stdout)
    deltas = {d["metric"]: d for d in data["deltas"]}
    assert deltas["correct"]["n"] == 3 and deltas["abstention"]["n"] == 1  # answerable / unanswerable only
    assert 0.0 <= deltas["correct"]["p_ttest"] <= 1.0 and deltas["ttft_p50_s"]["p_ttest"] is None
    assert deltas["citation_precision_macro"]["n"] == deltas["citation_precision"]["n"] > 0  # per-answer values
    assert deltas["correct"]["delta"] == pytest.approx(deltas["correct"]["b"] - deltas["correct"]["a"])


def test_study_with_an_answer_suite_and_a_shared_index(tmp_path: Path, docs_dir: Path) -> None:
    from tests.unit.test_eval_harness import write_suite

    write_suite(tmp_path, docs_dir, pipelines=[{"label": "fast", "config": "pipelines/fast.yaml"}]).rename(
        tmp_path / "retrieval.yaml"
    )
    write_answer_suite(tmp_path, docs_dir)  # rewrites pipelines/fast.yaml with a generator (same stored content)
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"name": "mixed", "suites": ["retrieval.yaml", "answers.yaml"]}), encoding="utf-8")
    result = run(tmp_path, study, "--fail-under", "hit@10=0.1", "--fail-under", "correct=0")
    assert result.exit_code == 0, result.output
    summary = next(p for p in reports(tmp_path) if p.name.endswith("-mixed"))
    data = json.loads((summary / "summary.json").read_text())
    assert data["columns"] == [
        "ndcg@10",
        "recall@100",
        "mrr@10",
        "correct",
        "citation_precision",
        "cited",
        "abstention",
        "false_abstention",
    ]
    rows = {r["suite"]: r for r in data["rows"]}
    assert rows["toy-answers"]["kind"] == "answers" and rows["toy-answers"]["metrics"]["ndcg@10"] is None
    assert rows["toy-answers"]["metrics"]["correct"] is not None and rows["toy"]["metrics"]["correct"] is None
    assert "| Correct | Cit. precision |" in (summary / "summary.md").read_text()
    answers_report = json.loads(Path(rows["toy-answers"]["report"], "metrics.json").read_text())
    assert answers_report["pipelines"]["fast"]["cache"]["reused"]  # the retrieval suite built the collection
    assert [g["metric"] for g in answers_report["gates"]] == ["correct"]  # hit@10 applies to the retrieval suite

    unknown = run(tmp_path, study, "--fail-over", "latency=1")
    assert unknown.exit_code == 2 and "--fail-over latency: no suite of study 'mixed' has it" in unknown.output


def test_shipped_answer_smoke_suite_runs(tmp_path: Path) -> None:
    result = run(tmp_path, REPO / "eval" / "suites" / "answers-smoke.yaml", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    data = json.loads(Path(out["report"], "metrics.json").read_text())
    assert data["dataset"]["answerable"] == 6 and data["dataset"]["unanswerable"] == 2
    pipe = data["pipelines"]["hashing-extractive"]
    assert pipe["ingest"]["files_failed"] == 0 and pipe["metrics"]["fact_recall"] > 0
