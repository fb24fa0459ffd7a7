"""``rag eval SUITE``: load the suite and dataset, run every pipeline, write the report, check gates.

Retrieval suites and answer suites (``dataset: {type: answers}``) share this entry point,
the report folder layout, the gates and ``EvalResult``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.errors import ConfigError
from rag_app.evaluation.answer_suite import AnswerSuite
from rag_app.evaluation.datasets import load_dataset
from rag_app.evaluation.gates import GateResult, check_gates, normalise_gates
from rag_app.evaluation.report import new_report_dir, write_report
from rag_app.evaluation.runner import run_suite
from rag_app.evaluation.suite import QuerySubset, Suite, load_suite

logger = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """What a finished eval run produced."""

    report_dir: Path
    data: dict[str, Any]
    gates: list[GateResult]

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]


def run_eval(
    suite_path: Path | str,
    *,
    reports_dir: Path,
    cache_dir: Path,
    fail_under: Mapping[str, float] | None = None,
    fail_over: Mapping[str, float] | None = None,
    labels: Sequence[str] = (),
    limit: int | None = None,
    command: str = "",
    plots: bool = True,
) -> EvalResult:
    """Run a suite file end to end and write its report folder.

    Args:
        suite_path: The suite YAML (retrieval or answers).
        reports_dir: Parent of the new ``<UTC timestamp>-<suite>`` report folder.
        cache_dir: Where isolated, reusable collections live.
        fail_under: Extra higher-is-better gates (``{"ndcg@10": 0.6}``), applied to every pipeline.
        fail_over: Extra lower-is-better gates (answer suites: ``{"ttft_p50_s": 4}``).
        labels: Only run these pipelines (default: all).
        limit: Only the first N judged queries / questions (overrides the suite's subset).
        command: The command line, recorded in the report.
        plots: Draw the PNG plots (about a second; skipped by ``--no-plots``).
    """
    suite = load_suite(suite_path)
    return run_loaded(
        suite,
        reports_dir=reports_dir,
        cache_dir=cache_dir,
        fail_under=fail_under,
        fail_over=fail_over,
        labels=labels,
        limit=limit,
        command=command,
        plots=plots,
    )


def run_loaded(
    suite: Suite | AnswerSuite,
    *,
    reports_dir: Path,
    cache_dir: Path,
    fail_under: Mapping[str, float] | None = None,
    fail_over: Mapping[str, float] | None = None,
    labels: Sequence[str] = (),
    limit: int | None = None,
    command: str = "",
    plots: bool = True,
) -> EvalResult:
    """Like :func:`run_eval`, for an already-validated suite."""
    known = [p.label for p in suite.pipelines]
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise ConfigError(f"no pipeline labelled {unknown[0]!r} in suite {suite.name!r}; labels: {', '.join(known)}")
    if isinstance(suite, AnswerSuite):
        from rag_app.evaluation.answer_runner import run_answers_loaded

        folder, data, gates = run_answers_loaded(
            suite,
            reports_dir=reports_dir,
            cache_dir=cache_dir,
            fail_under=fail_under,
            fail_over=fail_over,
            labels=labels,
            limit=limit,
            command=command,
            plots=plots,
        )
        return EvalResult(folder, data, gates)
    cli_gates = normalise_gates(fail_under or {}, "retrieval", "fail_under", flag="--fail-under")
    normalise_gates(fail_over or {}, "retrieval", "fail_over", flag="--fail-over")  # any name is an error
    if limit is not None:
        suite.queries = QuerySubset(limit=limit)
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    dataset = load_dataset(suite)
    runs = run_suite(suite, dataset, cache_dir=cache_dir, labels=labels, extra_metrics=list(cli_gates))
    means = {r.label: r.means for r in runs}
    gates = check_gates(suite, means, cli_gates, [r.label for r in runs])
    folder = new_report_dir(reports_dir, suite.name, started_at)
    data = write_report(
        folder,
        suite,
        dataset,
        runs,
        gates,
        command=command,
        started=started_at,
        seconds=time.perf_counter() - t0,
        plots=plots,
    )
    return EvalResult(folder, data, gates)
