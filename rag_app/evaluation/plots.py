"""Report plots (matplotlib's object API: no pyplot, no global backend state)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag_app.errors import MissingDependencyError
from rag_app.evaluation.runner import PipelineRun

logger = logging.getLogger(__name__)


def write_plots(runs: Sequence[PipelineRun], folder: Path, *, dist_metric: str = "ndcg@10") -> list[tuple[str, str]]:
    """Write the PNGs into ``folder``; returns ``(file name, caption)`` pairs."""
    figure_cls = figure_class()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if not any(m == dist_metric for r in runs for m in r.means):
        dist_metric = next(iter(runs[0].means)) if runs and runs[0].means else dist_metric
    for name, caption, draw in (
        ("recall_curve.png", "Recall@k per pipeline (document level)", _recall_curve),
        (
            f"per_query_{dist_metric.replace('@', '_at_')}.png",
            f"Per-query {dist_metric} distribution",
            _distribution,
        ),
        ("latency.png", "Retrieval latency per query (ms)", _latency),
    ):
        fig = figure_cls(figsize=(7.5, 4.2), dpi=100)
        fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.13)  # tight_layout costs a redraw
        ax = fig.add_subplot(1, 1, 1)
        draw(ax, runs, dist_metric)
        ax.grid(True, alpha=0.3)
        fig.savefig(folder / name)
        written.append((name, caption))
    return written


def _recall_curve(ax: Any, runs: Sequence[PipelineRun], _: str) -> None:
    for run in runs:
        ks = sorted(run.recall_curve)
        ax.plot(ks, [run.recall_curve[k] for k in ks], marker="o", markersize=3, label=run.label)
    ax.set_xscale("log")
    ticks = sorted({k for run in runs for k in run.recall_curve})
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.minorticks_off()
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("Recall@k")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)


def _distribution(ax: Any, runs: Sequence[PipelineRun], metric: str) -> None:
    bins = [i / 10 for i in range(11)]
    data = [[v.get(metric, 0.0) for v in run.per_query.values()] for run in runs]
    ax.hist(data, bins=bins, label=[r.label for r in runs])
    ax.set_xlabel(metric)
    ax.set_ylabel("queries")
    ax.legend(fontsize=8)


def _latency(ax: Any, runs: Sequence[PipelineRun], _: str) -> None:
    data = [list(run.query_latency_ms.values()) or [0.0] for run in runs]
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(runs) + 1), [r.label for r in runs], fontsize=8)
    ax.set_ylabel("ms per query (p50 line, p25-p75 box)")


def figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or "matplotlib", "eval", "rag eval reports") from exc
    return Figure


_ANSWER_BARS = ("correct", "fact_recall", "citation_precision", "cited", "abstention", "false_abstention")


def write_answer_plots(data: dict[str, Any], folder: Path) -> list[tuple[str, str]]:
    """An answer report's PNGs (from its metrics.json data): metric bars and per-question timings."""
    figure_cls = figure_class()
    folder.mkdir(parents=True, exist_ok=True)
    pipes = data["pipelines"]
    labels = list(pipes)
    fig = figure_cls(figsize=(7.5, 4.2), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.16)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        xs = [x + (i - (len(labels) - 1) / 2) * width for x in range(len(_ANSWER_BARS))]
        ax.bar(xs, [pipes[label]["metrics"].get(k, 0.0) for k in _ANSWER_BARS], width, label=label)
    ax.set_xticks(range(len(_ANSWER_BARS)), [k.replace("_", "\n") for k in _ANSWER_BARS], fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(folder / "answer_metrics.png")
    fig = figure_cls(figsize=(7.5, 4.2), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.95, bottom=0.13)
    ax = fig.add_subplot(1, 1, 1)
    series, names = [], []
    for label in labels:
        per = pipes[label]["per_query"].values()
        series += [[v["ttft_s"] for v in per] or [0.0], [v["total_s"] for v in per] or [0.0]]
        names += [f"{label}\nfirst token", f"{label}\ntotal"]
    ax.boxplot(series, showfliers=True)
    ax.set_xticks(range(1, len(series) + 1), names, fontsize=8)
    ax.set_ylabel("seconds per question")
    ax.grid(True, alpha=0.3)
    fig.savefig(folder / "answer_latency.png")
    return [
        ("answer_metrics.png", "Answer metrics per pipeline (false abstention: lower is better)"),
        ("answer_latency.png", "Time to first token and total answer time per question (s)"),
    ]
