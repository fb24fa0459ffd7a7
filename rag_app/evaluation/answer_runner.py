"""Runs an answer suite: ingest (or reuse) each pipeline's collection, answer every question, score.

Pipelines are built by ``build_pipeline`` over the same isolated cache entries as
retrieval suites (:func:`rag_app.evaluation.runner.open_cached`), so an answer
suite over the corpus a retrieval suite already ingested embeds nothing.
Each question is answered with ``pipeline.stream``; time to first token is the
wall clock from calling ``stream()`` (which retrieves) to the first non-empty
piece, and total time runs until the stream ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.errors import ConfigError
from rag_app.evaluation import answer_metrics
from rag_app.evaluation.answer_scoring import QuestionResult, score_answer
from rag_app.evaluation.answer_suite import AnswerPipelineSpec, AnswerSuite
from rag_app.evaluation.answers import AnswerDataset, GoldQuestion, load_answer_dataset
from rag_app.evaluation.gates import GateResult, evaluate_gates, normalise_gates
from rag_app.evaluation.runner import OpenedPipeline, RunBase, base_fields, open_cached
from rag_app.evaluation.suite import QuerySubset
from rag_app.pipeline import Pipeline
from rag_app.types import IngestReport, Message

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class AnswerRun(RunBase):
    """Everything measured for one pipeline of an answer suite."""

    generator: dict[str, Any]
    top_k: int
    results: list[QuestionResult] = field(repr=False)
    means: dict[str, float]
    not_measured: dict[str, str]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]


def run_answer_suite(
    suite: AnswerSuite, dataset: AnswerDataset, *, cache_dir: Path, labels: Sequence[str] = ()
) -> list[AnswerRun]:
    """Answer every selected question with each pipeline (or only ``labels``)."""
    specs = [p for p in suite.pipelines if not labels or p.label in labels]
    runs = []
    for spec in specs:
        logger.info("pipeline %s: %d questions", spec.label, len(dataset.questions))
        runs.append(run_answer_pipeline(suite, spec, dataset, cache_dir=cache_dir))
    return runs


def run_answer_pipeline(
    suite: AnswerSuite, spec: AnswerPipelineSpec, dataset: AnswerDataset, *, cache_dir: Path
) -> AnswerRun:
    """Ingest (or reuse) one pipeline's collection, then answer and score every question."""
    opened = open_answer_pipeline(suite, spec, dataset, cache_dir=cache_dir)
    pipeline, config = opened.pipeline, opened.config
    try:
        if pipeline.generator is None:  # checked when the suite loaded; the config file may have changed since
            raise ConfigError(f"pipeline {spec.label!r} has no generator; an answer suite needs one")
        if suite.warmup:
            _warm_up(pipeline, dataset.questions[0])
        started = time.perf_counter()
        results = []
        for n, gold in enumerate(dataset.questions, 1):
            results.append(answer_one(pipeline, gold, dataset))
            if n % 10 == 0:
                logger.info("  %d/%d questions", n, len(dataset.questions))
        wall = time.perf_counter() - started
        fingerprint = pipeline.fingerprint()
        generator_name = pipeline.generator.name
    finally:
        pipeline.close()
    records = [r.as_dict() for r in results]
    means, missing = answer_metrics.aggregate(records)
    gen = config.generator
    return AnswerRun(
        **base_fields(suite, spec, opened, fingerprint, query_wall_s=wall),
        generator={"type": gen.type if gen else None, "name": generator_name},
        top_k=config.retrieval.top_k,
        results=results,
        means=means,
        not_measured=missing,
    )


def open_answer_pipeline(
    suite: AnswerSuite, spec: AnswerPipelineSpec, dataset: AnswerDataset, *, cache_dir: Path
) -> OpenedPipeline:
    """One pipeline of the suite over its cached collection of the corpus (ingested when not cached)."""

    def ingest(pipeline: Pipeline) -> IngestReport:
        return pipeline.ingest([dataset.corpus_path], prune=True)

    return open_cached(
        suite,
        spec,
        index_name=dataset.index_name,
        index_checksum=dataset.index_checksum,
        cache_dir=cache_dir,
        ingest=ingest,
        dataset_note={"corpus": str(dataset.corpus_path), "corpus_sha256": dataset.index_checksum},
    )


def answer_one(pipeline: Pipeline, gold: GoldQuestion, dataset: AnswerDataset) -> QuestionResult:
    """Stream one answer, timing the first non-empty piece and the end, and score it."""
    t0 = time.perf_counter()
    stream = pipeline.stream(gold.question)
    first: float | None = None
    for piece in stream:
        if first is None and piece:
            first = time.perf_counter()
    end = time.perf_counter()
    answer = stream.answer if stream.answer is not None else stream.result()
    return score_answer(gold, answer, dataset, ttft_s=(first or end) - t0, total_s=end - t0)


def _warm_up(pipeline: Pipeline, gold: GoldQuestion) -> None:
    """Load the models and open the store outside the timings: one search, one 1-token generation."""
    pipeline.search(gold.question)
    assert pipeline.generator is not None
    pipeline.generator.generate([Message("user", "Reply with OK.")], max_tokens=1)


def suite_gates(
    suite: AnswerSuite,
    runs: Sequence[AnswerRun],
    cli_under: Mapping[str, float],
    cli_over: Mapping[str, float],
) -> list[GateResult]:
    """Suite-wide gates, then each pipeline's own, then the command line's (later wins)."""
    results = []
    for run in runs:
        spec = next(p for p in suite.pipelines if p.label == run.label)
        under = {**suite.fail_under, **spec.fail_under, **cli_under}
        over = {**suite.fail_over, **spec.fail_over, **cli_over}
        results.extend(evaluate_gates(run.label, run.means, under, over))
    return results


def run_answers_loaded(
    suite: AnswerSuite,
    *,
    reports_dir: Path,
    cache_dir: Path,
    fail_under: Mapping[str, float] | None = None,
    fail_over: Mapping[str, float] | None = None,
    labels: Sequence[str] = (),
    limit: int | None = None,
    command: str = "",
    plots: bool = True,
) -> tuple[Path, dict[str, Any], list[GateResult]]:
    """Run a loaded answer suite end to end and write its report folder (see ``harness.run_loaded``)."""
    from rag_app.evaluation.answer_report import write_answer_report
    from rag_app.evaluation.report import new_report_dir

    under = normalise_gates(fail_under or {}, "answers", "fail_under", flag="--fail-under")
    over = normalise_gates(fail_over or {}, "answers", "fail_over", flag="--fail-over")
    if limit is not None:
        suite.questions = QuerySubset(limit=limit)
    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    dataset = load_answer_dataset(suite)
    if not dataset.questions:
        raise ConfigError(f"suite {suite.name!r}: no questions selected")
    runs = run_answer_suite(suite, dataset, cache_dir=cache_dir, labels=labels)
    gates = suite_gates(suite, runs, under, over)
    folder = new_report_dir(reports_dir, suite.name, started_at)
    data = write_answer_report(
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
    return folder, data, gates
