"""Studies: several suites (one per dataset) run by one command and summarised in one table and plot.

A study file lists suite files instead of a dataset::

    name: retrieval-ablation
    suites: [ablation/scifact.yaml, ablation/handbook.yaml]
    columns: [ndcg@10, recall@100, mrr@10]

``rag eval STUDY`` runs every suite exactly as ``rag eval SUITE`` would (each
writes its own full report folder, with its own caches and gates), then writes
``<UTC time>-<study>/`` with ``summary.md``, ``summary.html``, ``summary.json``
and ``summary.png``: one row per (dataset, pipeline) with the chosen metrics and
p50/p95 latency, each row linking to its suite's report.

A study may include answer suites (``dataset: {type: answers}``): ``columns`` then
takes answer metrics too (``correct``, ``citation_precision`` ...; a row shows ``-``
for a metric its suite does not have), and the latency columns of an answer row are
the whole answer's (retrieval + generation) per question. Without ``columns`` the
table shows the retrieval defaults and/or the answer headline metrics, by the kinds
of suites listed. Command-line gates apply to the suites whose kind has that metric.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from rag_app.config import expand_env, read_yaml
from rag_app.errors import ConfigError
from rag_app.evaluation.answer_metrics import METRICS, display_name
from rag_app.evaluation.answer_suite import AnswerSuite
from rag_app.evaluation.gates import GateDirection, SuiteKind, normalise_gates, split_gates
from rag_app.evaluation.harness import EvalResult, run_loaded
from rag_app.evaluation.metrics import MetricName
from rag_app.evaluation.plots import figure_class
from rag_app.evaluation.provenance import machine
from rag_app.evaluation.render import Bullets, Doc, Heading, Image, Para, Table, to_html, to_markdown
from rag_app.evaluation.report import new_report_dir
from rag_app.evaluation.suite import _LABEL, Suite, _Strict, load_suite
from rag_app.validation import first_problem

DEFAULT_COLUMNS = ["ndcg@10", "recall@100", "mrr@10"]
ANSWER_COLUMNS = ["correct", "citation_precision", "cited", "abstention", "false_abstention"]


class Study(_Strict):
    """A study file: suites to run, and the metric columns of the summary table."""

    name: str = Field(pattern=_LABEL)
    description: str = ""
    suites: list[str] = Field(min_length=1, description="suite files, relative to the study file")
    columns: list[str] | None = Field(default=None, min_length=1, description="metric keys (default: by suite kind)")

    @field_validator("columns")
    @classmethod
    def _metric_keys(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [k.strip().lower() if k.strip().lower() in METRICS else MetricName.parse(k).key for k in value]


def default_columns(suites: Sequence[Suite | AnswerSuite]) -> list[str]:
    """Retrieval defaults if any retrieval suite is listed, then the answer headline if any answer suite is."""
    columns: list[str] = []
    if any(isinstance(s, Suite) for s in suites):
        columns += DEFAULT_COLUMNS
    if any(isinstance(s, AnswerSuite) for s in suites):
        columns += ANSWER_COLUMNS
    return columns


def is_study(path: Path) -> bool:
    """Whether the YAML file at ``path`` is a study (it lists ``suites:``) rather than a suite."""
    data = read_yaml(path, what="suite", examples="eval/suites/")
    return isinstance(data, dict) and "suites" in data


def load_study(path: Path) -> Study:
    data = read_yaml(path, what="study", examples="eval/suites/")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Study(**expand_env(data, path.name))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_problem(exc, Study)}") from exc


def run_study(
    path: Path,
    *,
    reports_dir: Path,
    cache_dir: Path,
    fail_under: dict[str, float] | None = None,
    fail_over: dict[str, float] | None = None,
    labels: Sequence[str] = (),
    limit: int | None = None,
    command: str = "",
    plots: bool = True,
) -> tuple[Path, dict[str, Any], list[EvalResult]]:
    """Run every suite of the study, then write the summary folder.

    Returns:
        The summary folder, the summary data (``summary.json``) and each suite's result.
    """
    study = load_study(path)
    # Every suite is validated before the first one runs: a typo in the last must not
    # surface after the others have spent their minutes.
    suites = [load_suite((path.parent / name).resolve()) for name in study.suites]
    kinds: list[SuiteKind] = ["answers" if isinstance(s, AnswerSuite) else "retrieval" for s in suites]
    under, over = fail_under or {}, fail_over or {}
    gates = [(split_gates(under, k, "fail_under"), split_gates(over, k, "fail_over")) for k in kinds]
    sides: tuple[tuple[GateDirection, int, dict[str, float]], ...] = (("fail_under", 0, under), ("fail_over", 1, over))
    for direction, side, given in sides:
        for name, value in given.items():
            if all(name in g[side][1] for g in gates):
                if len(set(kinds)) == 1:  # the suite kind's own message (valid names, missing cut-off ...)
                    normalise_gates({name: value}, kinds[0], direction, flag=f"--{direction.replace('_', '-')}")
                raise ConfigError(f"--{direction.replace('_', '-')} {name}: no suite of study {study.name!r} has it")
    columns = study.columns or default_columns(suites)
    started = dt.datetime.now(dt.UTC)
    results = []
    for suite, ((suite_under, _), (suite_over, _)) in zip(suites, gates, strict=True):
        wanted = [x for x in labels if any(p.label == x for p in suite.pipelines)]
        if labels and not wanted:
            continue
        results.append(
            run_loaded(
                suite,
                reports_dir=reports_dir,
                cache_dir=cache_dir,
                fail_under=suite_under,
                fail_over=suite_over,
                labels=wanted,
                limit=limit,
                command=command,
                plots=plots,
            )
        )
    if not results:
        raise ConfigError(f"no suite of study {study.name!r} has a pipeline labelled {', '.join(labels)}")
    folder = new_report_dir(reports_dir, study.name, started)
    data = summary_data(study, results, command=command, started=started, columns=columns)
    (folder / "summary.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    image = None
    if plots:
        write_summary_plot(data, folder / "summary.png")
        image = "summary.png"
    doc = summary_doc(data, folder, image)
    (folder / "summary.md").write_text(to_markdown(doc), encoding="utf-8")
    (folder / "summary.html").write_text(to_html(doc), encoding="utf-8")
    return folder, data, results


def summary_data(
    study: Study,
    results: Sequence[EvalResult],
    *,
    command: str,
    started: dt.datetime,
    columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One row per (dataset, pipeline): the study's columns plus p50/p95 latency and the report folder."""
    columns = list(columns or study.columns or DEFAULT_COLUMNS)
    rows = []
    for result in results:
        data = result.data
        for label, pipe in data["pipelines"].items():
            rows.append(
                {
                    "suite": data["suite"]["name"],
                    "dataset": data["dataset"]["name"],
                    "queries": data["dataset"]["queries_evaluated"],
                    "pipeline": label,
                    "kind": data.get("kind", "retrieval"),
                    "metrics": {k: pipe["metrics"].get(k) for k in columns},
                    "p50_ms": pipe["latency_ms"]["p50"],
                    "p95_ms": pipe["latency_ms"]["p95"],
                    "report": str(result.report_dir),
                }
            )
    return {
        "study": study.model_dump(),
        "created_utc": started.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "columns": columns,
        "rows": rows,
        "gates_failed": [f"{r.data['suite']['name']}: {g.line()}" for r in results for g in r.failed_gates],
    }


def summary_table(data: dict[str, Any]) -> Table:
    columns = data["columns"]
    header = ["dataset", "pipeline", *(display_name(k) for k in columns), "p50 ms", "p95 ms"]
    rows = [
        [
            _group(row),
            row["pipeline"],
            *(_fmt(row["metrics"][k]) for k in columns),
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
        ]
        for row in data["rows"]
    ]
    return Table(header, rows, align_right_from=2)


def summary_doc(data: dict[str, Any], folder: Path, image: str | None) -> Doc:
    doc = Doc(f"Study {data['study']['name']}")
    if data["study"]["description"]:
        doc.add(Para(data["study"]["description"]))
    mach = data["machine"]
    doc.add(
        Bullets(
            [
                f"Command: `{data['command'] or 'rag eval'}`",
                f"Machine: {mach.get('platform', '?')}, {mach.get('cpu_count', '?')} CPUs, "
                f"{mach.get('memory_gb', '?')} GB, Python {mach.get('python', '?')}",
                f"Run: {data['created_utc']}",
            ]
        ),
        Heading("Summary"),
        summary_table(data),
    )
    if any(row.get("kind") == "answers" for row in data["rows"]):
        doc.add(Para("Latency: per query for retrieval suites; per question for answer suites (retrieval and "
                     "generation, the whole answer)."))
    if image:
        doc.add(Image(image, "metrics and latency per dataset and pipeline"))
    reports = sorted({row["report"] for row in data["rows"]})
    doc.add(Heading("Suite reports"), Bullets([_relative(Path(r), folder) + "/report.html" for r in reports]))
    if data["gates_failed"]:
        doc.add(Heading("Failed gates"), Bullets(data["gates_failed"]))
    return doc


def write_summary_plot(data: dict[str, Any], path: Path) -> None:
    """Grouped bars of the first column per dataset, and p95 latency (log scale) beside them."""
    metric = data["columns"][0]
    # one group per suite (two suites may share a dataset, e.g. all queries and a sample)
    datasets = list(dict.fromkeys(_group(row) for row in data["rows"]))
    pipelines = list(dict.fromkeys(row["pipeline"] for row in data["rows"]))
    by_key = {(_group(row), row["pipeline"]): row for row in data["rows"]}
    fig = figure_class()(figsize=(12, 4.6), dpi=100)  # a missing matplotlib fails here, in one line
    colours = _colours(len(pipelines))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.2, wspace=0.25)
    quality, latency = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    width = 0.8 / max(len(pipelines), 1)
    for i, label in enumerate(pipelines):
        xs = [d + (i - (len(pipelines) - 1) / 2) * width for d in range(len(datasets))]
        rows = [by_key.get((d, label)) for d in datasets]
        colour = colours[i]
        quality.bar(xs, [r["metrics"][metric] or 0.0 if r else 0.0 for r in rows], width, label=label, color=colour)
        latency.bar(xs, [max(r["p95_ms"], 0.01) if r else 0.0 for r in rows], width, label=label, color=colour)
    kinds = {row.get("kind", "retrieval") for row in data["rows"]}
    what = "retrieval" if kinds == {"retrieval"} else "answer" if kinds == {"answers"} else "retrieval / answer"
    for ax, title in ((quality, display_name(metric)), (latency, f"p95 {what} latency (ms)")):
        ax.set_xticks(range(len(datasets)), datasets)
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    quality.set_ylim(0, 1.0)
    latency.set_yscale("log")
    quality.legend(fontsize=7, ncol=2, loc="lower left")
    fig.savefig(path)


def format_summary(data: dict[str, Any]) -> str:
    """The summary table as terminal text."""
    table = summary_table(data)
    widths = [max(len(str(c)) for c in col) for col in zip(table.header, *table.rows, strict=True)]
    lines = []
    for cells in (table.header, *table.rows):
        lines.append(
            "  ".join(
                str(c).ljust(w) if i < table.align_right_from else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _group(row: dict[str, Any]) -> str:
    return f"{row['dataset']} ({row['queries']} q)"


def _colours(n: int) -> list[Any]:
    """``n`` distinct colours (tab20 holds 20; beyond that they repeat)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _relative(path: Path, folder: Path) -> str:
    """``path`` as seen from the summary ``folder`` (suite reports are its siblings)."""
    path, parent = path.resolve(), folder.resolve().parent
    return f"../{path.name}" if path.parent == parent else str(path)
