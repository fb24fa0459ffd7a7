"""The evaluation page: reports written by ``rag eval`` under eval/reports/<run>/."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from rag_app.ui import state
from rag_app.ui.safe_markdown import neutralize

logger = logging.getLogger(__name__)

SUMMARY_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "hit@10")
# answer reports (``rag eval`` on an answer suite): shown when present, like the retrieval ones
ANSWER_SUMMARY_METRICS = ("correct", "citation_precision", "cited", "abstention", "false_abstention", "ttft_p50_s")


@dataclass(frozen=True)
class ReportInfo:
    """One report folder (it has a metrics.json)."""

    folder: Path
    name: str

    @property
    def plots(self) -> list[Path]:
        return sorted((self.folder / "plots").glob("*.png"))


def list_reports(reports_dir: Path) -> list[ReportInfo]:
    """Report folders under ``reports_dir``, newest first (folder names start with a UTC timestamp)."""
    if not reports_dir.is_dir():
        return []
    found = [ReportInfo(p, p.name) for p in reports_dir.iterdir() if (p / "metrics.json").is_file()]
    return sorted(found, key=lambda r: r.name, reverse=True)


def load_metrics(report: ReportInfo) -> dict[str, Any]:
    """The report's metrics.json.

    Raises:
        ValueError: the file is not valid JSON or not an object.
    """
    data = json.loads((report.folder / "metrics.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("metrics.json does not hold a JSON object")
    return data


def metrics_rows(data: dict[str, Any], metrics: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """One row per pipeline: the chosen metrics (all when None), latency and ingest time."""
    rows = []
    for label, run in (data.get("pipelines") or {}).items():
        means: dict[str, float] = run.get("metrics") or {}
        keys = [k for k in (metrics or tuple(means)) if k in means]
        row: dict[str, Any] = {"pipeline": label}
        row.update({k: round(float(means[k]), 4) for k in keys})
        latency = run.get("latency_ms") or {}
        for stat in ("p50", "p95"):
            if stat in latency:
                row[f"{stat} ms"] = round(float(latency[stat]), 1)
        ingest = run.get("ingest") or {}
        if "wall_seconds" in ingest:
            row["ingest s"] = ingest["wall_seconds"]
        rows.append(row)
    return rows


def gate_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "pipeline": g.get("pipeline"),
            "metric": g.get("metric"),
            "threshold": g.get("threshold"),
            "value": round(float(g["value"]), 4) if g.get("value") is not None else None,
            "passed": "✅" if g.get("passed") else "❌",
        }
        for g in data.get("gates") or []
    ]


def evaluation_page() -> None:
    st.title("Evaluation reports")
    reports_dir = state.settings().reports_dir
    reports = list_reports(reports_dir)
    if not reports:
        st.info(f"No reports in `{reports_dir}` yet: `rag eval run <suite>` writes one.", icon=":material/query_stats:")
        return
    report = st.selectbox("Report", reports, format_func=lambda r: r.name)
    if report is None:
        return
    try:
        data = load_metrics(report)
    except (OSError, ValueError) as exc:
        st.error(f"{report.name}: cannot read metrics.json ({exc})", icon=":material/error:")
        return
    _summary(data)
    st.subheader("Metrics")
    summary = ANSWER_SUMMARY_METRICS if data.get("kind") == "answers" else SUMMARY_METRICS
    st.dataframe(metrics_rows(data, summary), hide_index=True, width="stretch")
    with st.expander("All metrics"):
        st.dataframe(metrics_rows(data), hide_index=True, width="stretch")
    gates = gate_rows(data)
    if gates:
        st.subheader("Gates")
        st.dataframe(gates, hide_index=True, width="stretch")
    st.subheader("Plots")
    if not report.plots:
        st.caption("This report has no plots.")
    columns = st.columns(2)
    for i, plot in enumerate(report.plots):
        columns[i % 2].image(str(plot), caption=plot.stem.replace("_", " "))
    markdown = report.folder / "report.md"
    if markdown.is_file():
        with st.expander("Full report (report.md)"):
            st.markdown(neutralize(markdown.read_text(encoding="utf-8")))  # it quotes model answers


def _summary(data: dict[str, Any]) -> None:
    suite = data.get("suite") or {}
    dataset = data.get("dataset") or {}
    if suite.get("description"):
        st.markdown(str(suite["description"]))
    st.caption(
        f"Suite **{suite.get('name', '?')}** · dataset {dataset.get('name', '?')} "
        f"({dataset.get('queries_evaluated', '?')} queries) · created {data.get('created_utc', '?')} "
        f"in {data.get('wall_seconds', '?')} s · `{data.get('command', '')}`"
    )
