"""Studies: several suites from one command, one summary table and plot, gates across suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag_app.config import load_config
from rag_app.evaluation.configs import resolve_pipeline
from rag_app.evaluation.study import load_study
from rag_app.evaluation.suite import load_suite
from rag_app.pipeline import build_pipeline
from tests.conftest import REPO
from tests.unit.test_eval_harness import run_eval, write_suite


def write_study(tmp: Path, docs_dir: Path, **changes: Any) -> Path:
    write_suite(tmp, docs_dir).rename(tmp / "one.yaml")
    solo = [{"label": "solo", "config": "pipelines/fast.yaml"}]
    write_suite(tmp, docs_dir, name="toy-two", pipelines=solo).rename(tmp / "two.yaml")
    study: dict[str, Any] = {"name": "study", "suites": ["one.yaml", "two.yaml"], "columns": ["ndcg@10", "hit@3"]}
    study.update(changes)
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    return path


def test_study_runs_every_suite_and_writes_one_summary(tmp_path: Path, docs_dir: Path) -> None:
    study = write_study(tmp_path, docs_dir)
    result = run_eval(tmp_path, study, plots=True)
    assert result.exit_code == 0, result.output
    folders = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [f.rsplit("-", 1)[-1] for f in folders if not f.endswith("study")] == ["toy", "two"]
    (summary,) = [tmp_path / "reports" / f for f in folders if f.endswith("-study")]
    assert {"summary.json", "summary.md", "summary.html", "summary.png"} <= {p.name for p in summary.iterdir()}

    data = json.loads((summary / "summary.json").read_text())
    rows = {(r["suite"], r["pipeline"]): r for r in data["rows"]}
    assert set(rows) == {("toy", "fast"), ("toy", "fast-small"), ("toy-two", "solo")}
    # the summary repeats each suite's own numbers, not a recomputation
    toy = json.loads(Path(rows[("toy", "fast")]["report"], "metrics.json").read_text())
    assert rows[("toy", "fast")]["metrics"]["ndcg@10"] == toy["pipelines"]["fast"]["metrics"]["ndcg@10"]
    assert rows[("toy", "fast")]["p95_ms"] == toy["pipelines"]["fast"]["latency_ms"]["p95"]
    assert data["machine"]["cpu_count"] and data["command"]
    md = (summary / "summary.md").read_text()
    assert "| dataset | pipeline | nDCG@10 | Hit@3 | p50 ms | p95 ms |" in md.replace("  ", " ")
    assert "summary.png" in md and "../" in md
    assert "fast-small" in result.stdout and "summary:" in result.stdout


def test_study_gates_and_pipeline_selection(tmp_path: Path, docs_dir: Path) -> None:
    study = write_study(tmp_path, docs_dir)
    failed = run_eval(tmp_path, study, "--fail-under", "ndcg@10=0.99")
    assert failed.exit_code == 1
    lines = [x for x in failed.stderr.splitlines() if x.startswith("gate failed")]
    assert any(x.startswith("gate failed: toy: FAIL fast:") for x in lines)
    assert any(x.startswith("gate failed: toy-two: FAIL solo:") for x in lines)

    only = run_eval(tmp_path, study, "--pipeline", "solo", "--json")
    assert only.exit_code == 0, only.output
    assert [r["pipeline"] for r in json.loads(only.stdout)["rows"]] == ["solo"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"suites": ["one.yaml", "missing.yaml"]}, "suite file not found"),
        ({"columns": ["ndcg"]}, "needs a cut-off"),
        ({"sutes": []}, "unknown key"),
    ],
)
def test_study_errors_are_one_line(tmp_path: Path, docs_dir: Path, change: dict[str, Any], message: str) -> None:
    study = write_study(tmp_path, docs_dir, **change)
    result = run_eval(tmp_path, study)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_shipped_ablation_study_builds_every_pipeline() -> None:
    """Every row of the shipped ablation resolves and builds (component params are validated at build)."""
    study_path = REPO / "eval" / "suites" / "retrieval-ablation.yaml"
    study = load_study(study_path)
    labels = []
    for name in [*study.suites, "scifact.yaml", "handbook.yaml"]:
        suite = load_suite(study_path.parent / name)
        for spec in suite.pipelines:
            config = resolve_pipeline(suite, spec)
            build_pipeline(config).close()
            labels.append(f"{suite.name}/{spec.label}")
            # a row's label says which first stage it measures; a base config must not change that
            kinds = sorted(r.type for r in config.retrieval.retrievers)
            first_stage = spec.label.split("-passages")[0]
            expected = {
                "dense": ["dense"], "minilm-dense": ["dense"], "fast": ["dense"], "local": ["bm25", "dense"],
                "bm25": ["bm25"], "milvus-bm25": ["milvus_bm25"],
            }
            wanted = ["bm25", "dense"] if first_stage.startswith("hybrid") else expected[first_stage]
            assert kinds == wanted, (suite.name, spec.label, kinds)
    assert "ablation-scifact/hybrid-weighted" in labels and "ablation-handbook/hybrid-weighted" in labels
    assert load_config(REPO / "pipelines" / "local.yaml").retrieval.fusion.method == "weighted"


def test_a_bad_later_suite_fails_before_any_suite_runs(tmp_path: Path, docs_dir: Path) -> None:
    study = write_study(tmp_path, docs_dir)
    (tmp_path / "two.yaml").write_text((tmp_path / "two.yaml").read_text().replace("label:", "lable:"))
    result = run_eval(tmp_path, study)
    assert result.exit_code == 2, result.output
    assert "two.yaml" in result.output and "unknown key" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
