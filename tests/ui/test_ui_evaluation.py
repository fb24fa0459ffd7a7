"""Evaluation page and its report-reading helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image
from streamlit.testing.v1 import AppTest

from rag_app.ui.evaluation import ReportInfo, gate_rows, list_reports, metrics_rows
from tests.ui.conftest import UiEnv


def write_report(reports: Path, name: str, *, plots: bool = True) -> Path:
    folder = reports / name
    folder.mkdir(parents=True)
    metrics: dict[str, Any] = {
        "suite": {"name": "handbook", "description": "A tiny suite."},
        "dataset": {"name": "handbook", "queries_evaluated": 12},
        "created_utc": "2026-11-22T06:57:54+00:00",
        "wall_seconds": 3.2,
        "command": "rag eval run eval/suites/handbook.yaml",
        "gates": [{"pipeline": "dense", "metric": "ndcg@10", "threshold": 0.5, "value": 0.61, "passed": True}],
        "pipelines": {
            "dense": {
                "metrics": {"ndcg@10": 0.612345, "recall@100": 0.9, "mrr@10": 0.55, "p@1": 0.5},
                "latency_ms": {"p50": 12.34, "p95": 20.0},
                "ingest": {"wall_seconds": 1.5},
            },
            "bm25": {"metrics": {"ndcg@10": 0.7, "recall@100": 0.91}, "latency_ms": {"p50": 0.6}},
        },
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "report.md").write_text("# Eval report: handbook\n", encoding="utf-8")
    if plots:
        (folder / "plots").mkdir()
        Image.new("RGB", (8, 4), "white").save(folder / "plots" / "recall_curve.png")
    return folder


def test_list_reports_newest_first_and_rows(tmp_path: Path) -> None:
    write_report(tmp_path, "20260101T000000Z-a", plots=False)
    write_report(tmp_path, "20260202T000000Z-b")
    (tmp_path / "not-a-report").mkdir()
    reports = list_reports(tmp_path)
    assert [r.name for r in reports] == ["20260202T000000Z-b", "20260101T000000Z-a"]
    assert [p.name for p in reports[0].plots] == ["recall_curve.png"] and reports[1].plots == []
    assert list_reports(tmp_path / "missing") == []
    data = json.loads((reports[0].folder / "metrics.json").read_text())
    rows = metrics_rows(data, ("ndcg@10", "mrr@10"))
    assert rows[0] == {"pipeline": "dense", "ndcg@10": 0.6123, "mrr@10": 0.55, "p50 ms": 12.3, "p95 ms": 20.0,
                       "ingest s": 1.5}
    assert rows[1] == {"pipeline": "bm25", "ndcg@10": 0.7, "p50 ms": 0.6}
    assert set(metrics_rows(data)[0]) >= {"ndcg@10", "recall@100", "mrr@10", "p@1"}
    assert gate_rows(data) == [
        {"pipeline": "dense", "metric": "ndcg@10", "threshold": 0.5, "value": 0.61, "passed": "✅"}
    ]
    assert isinstance(reports[0], ReportInfo)


def open_evaluation(env: UiEnv) -> AppTest:
    at = env.app().run()
    at.switch_page("views/evaluation.py").run()
    assert not at.exception, at.exception
    return at


def test_page_shows_metrics_gates_and_plots(ui_env: UiEnv) -> None:
    write_report(ui_env.reports, "20260101T000000Z-old", plots=False)
    write_report(ui_env.reports, "20260202T000000Z-new")
    at = open_evaluation(ui_env)
    report = next(s for s in at.selectbox if s.label == "Report")
    assert report.value.name == "20260202T000000Z-new"
    summary = at.dataframe[0].value
    assert list(summary["pipeline"]) == ["dense", "bm25"] and summary["ndcg@10"][0] == 0.6123
    assert any("Suite **handbook**" in c.value for c in at.caption)
    assert len(at.get("image")) == 1
    report.select(next(o for o in report.options if "old" in str(o))).run()
    assert any("no plots" in c.value for c in at.caption)


def test_page_without_reports(ui_env: UiEnv) -> None:
    at = open_evaluation(ui_env)
    (info,) = at.info
    assert "No reports" in info.value and "rag eval" in info.value
