"""Runs a suite: ingest each pipeline into its cached collection, run every query, score.

The runner drives pipelines built by ``build_pipeline`` exactly as the CLI and
the UI do; it only moves each pipeline's store into an isolated cache entry.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag_app.config import PipelineConfig
from rag_app.evaluation import configs
from rag_app.evaluation.datasets import EvalDataset
from rag_app.evaluation.metrics import MetricName, Ranking, evaluate, mean_values, rank_documents
from rag_app.evaluation.suite import PipelineBase, PipelineSpec, Suite, SuiteBase
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Document, IngestReport

logger = logging.getLogger(__name__)

_CURVE = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)


@dataclass(kw_only=True)
class RunBase:
    """What every suite run records about one pipeline: config, cache entry, fingerprint, ingest, cost."""

    label: str
    config_path: str
    config_hash: str
    config: dict[str, Any]
    cache_key: str
    cache_dir: str
    fingerprint: dict[str, Any]
    ingest: dict[str, Any]
    ingest_wall_s: float
    reused_cache: bool
    query_wall_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass(kw_only=True)
class PipelineRun(RunBase):
    """Everything measured for one pipeline of a retrieval suite."""

    depth: int
    per_query: dict[str, dict[str, float]]
    means: dict[str, float]
    recall_curve: dict[int, float]
    latency_ms: dict[str, float]
    query_latency_ms: dict[str, float]
    chunks_retrieved: dict[str, int]
    rankings: dict[str, Ranking] = field(repr=False)


def run_suite(
    suite: Suite,
    dataset: EvalDataset,
    *,
    cache_dir: Path,
    labels: Sequence[str] | None = None,
    extra_metrics: Sequence[str] = (),
) -> list[PipelineRun]:
    """Run the suite's pipelines (or only ``labels``) on ``dataset``.

    Args:
        suite: The validated suite.
        dataset: Its dataset, already loaded (queries selected).
        cache_dir: Where isolated collections are kept between runs.
        labels: Only these pipelines (default: all).
        extra_metrics: Metric keys to compute besides the suite's (e.g. command-line gates).
    """
    metrics = suite.metric_names(extra_metrics)
    specs = [p for p in suite.pipelines if not labels or p.label in labels]
    documents = list(dataset.documents()) if dataset.type == "beir" else []
    runs = []
    for spec in specs:
        logger.info("pipeline %s: %d queries, depth %d", spec.label, len(dataset.queries), suite.retrieval_depth())
        runs.append(run_pipeline(suite, spec, dataset, documents, metrics=metrics, cache_dir=cache_dir))
    return runs


@dataclass
class OpenedPipeline:
    """A suite pipeline built over its cached, isolated collection, with what ingesting it did."""

    pipeline: Pipeline
    config: PipelineConfig
    key: str
    folder: Path
    report: IngestReport
    ingest_wall_s: float


def open_cached(
    suite: SuiteBase,
    spec: PipelineBase,
    *,
    index_name: str,
    index_checksum: str,
    cache_dir: Path,
    ingest: Callable[[Pipeline], IngestReport],
    dataset_note: dict[str, Any],
) -> OpenedPipeline:
    """Resolve the spec's config, move its store into the cache entry and ingest (a no-op when cached).

    The caller closes ``.pipeline``; it is closed here if ingesting fails.
    """
    config = configs.resolve_pipeline(suite, spec)
    key, folder = configs.cache_entry(cache_dir, index_name, config, index_checksum)
    pipeline = build_pipeline(configs.isolate(config, folder, key))
    try:
        started = time.perf_counter()
        report = ingest(pipeline)
        ingest_wall = time.perf_counter() - started
        if report.files_failed:
            logger.warning("%s: %d documents failed to ingest", spec.label, report.files_failed)
        _write_cache_note(folder, spec, config, dataset_note)
    except BaseException:
        pipeline.close()
        raise
    return OpenedPipeline(pipeline, config, key, folder, report, ingest_wall)


def base_fields(
    suite: SuiteBase, spec: PipelineBase, opened: OpenedPipeline, fingerprint: dict[str, Any], *, query_wall_s: float
) -> dict[str, Any]:
    """The ``RunBase`` fields of a finished pipeline run (peak memory read now)."""
    return {
        "label": spec.label,
        "config_path": str(suite.resolve(spec.config)),
        "config_hash": configs.config_hash(opened.config),
        "config": configs.config_dict(opened.config),
        "cache_key": opened.key,
        "cache_dir": str(opened.folder),
        "fingerprint": fingerprint,
        "ingest": opened.report.as_dict(),
        "ingest_wall_s": opened.ingest_wall_s,
        "reused_cache": opened.report.embeddings_computed == 0,
        "query_wall_s": query_wall_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_pipeline(
    suite: Suite,
    spec: PipelineSpec,
    dataset: EvalDataset,
    documents: Sequence[Document],
    *,
    metrics: Sequence[MetricName],
    cache_dir: Path,
) -> PipelineRun:
    """Ingest (or reuse) one pipeline's collection and evaluate it."""

    def ingest(pipeline: Pipeline) -> IngestReport:
        if dataset.type == "beir":
            return _ingest_in_slices(pipeline, documents)
        return pipeline.ingest([dataset.corpus_path], prune=True)

    opened = open_cached(
        suite,
        spec,
        index_name=dataset.index_name,
        index_checksum=dataset.index_checksum,
        cache_dir=cache_dir,
        ingest=ingest,
        dataset_note={"dataset": dataset.name, "dataset_checksums": dataset.checksums},
    )
    pipeline = opened.pipeline
    try:
        depth = suite.retrieval_depth()
        rankings, counts, latencies, query_wall = _run_queries(pipeline, dataset, depth)
        fingerprint = pipeline.fingerprint()
    finally:
        pipeline.close()
    curve_ks = sorted({k for k in _CURVE if k <= depth} | {m.k for m in metrics if m.family == "recall" and m.k})
    curve = [MetricName("recall", k) for k in curve_ks]
    per_query_all = evaluate(dataset.qrels, rankings, [*metrics, *curve])
    keys = [m.key for m in metrics]
    per_query = {q: {k: v[k] for k in keys} for q, v in per_query_all.items()}
    curve_means = mean_values(per_query_all, [m.key for m in curve])
    return PipelineRun(
        **base_fields(suite, spec, opened, fingerprint, query_wall_s=query_wall),
        depth=depth,
        per_query=per_query,
        means=mean_values(per_query, keys),
        recall_curve={m.k or 0: curve_means[m.key] for m in curve},
        latency_ms=latency_stats(list(latencies.values())),
        query_latency_ms=latencies,
        chunks_retrieved=counts,
        rankings=rankings,
    )


def latency_stats(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of ``values`` (all 0 when empty)."""
    lat = np.asarray(list(values) or [0.0], dtype=float)
    return {
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "mean": float(lat.mean()),
        "max": float(lat.max()),
    }


def _ingest_in_slices(pipeline: Pipeline, documents: Sequence[Document], size: int = 500) -> IngestReport:
    """``ingest_documents`` in slices, logging progress (a BEIR corpus can take many minutes)."""
    total = IngestReport()
    for start in range(0, len(documents), size):
        part = pipeline.ingest_documents(documents[start : start + size])
        for name, value in part.as_dict().items():
            if isinstance(value, list):
                getattr(total, name).extend(value)
            else:
                setattr(total, name, getattr(total, name) + value)
        logger.info(
            "  ingested %d/%d documents (%d embedded so far)",
            min(start + size, len(documents)),
            len(documents),
            total.embeddings_computed,
        )
    return total


def _run_queries(
    pipeline: Pipeline, dataset: EvalDataset, depth: int
) -> tuple[dict[str, Ranking], dict[str, int], dict[str, float], float]:
    """Search every query once (after one untimed warm-up), timing each search."""
    rankings: dict[str, Ranking] = {}
    counts: dict[str, int] = {}
    latencies: dict[str, float] = {}
    first = next(iter(dataset.queries.values()))
    pipeline.search(first, top_k=depth)  # loads models and opens the store outside the timings
    started = time.perf_counter()
    for n, (qid, text) in enumerate(dataset.queries.items(), 1):
        t0 = time.perf_counter()
        hits = pipeline.search(text, top_k=depth)
        latencies[qid] = (time.perf_counter() - t0) * 1000.0
        counts[qid] = len(hits)
        rankings[qid] = rank_documents((dataset.doc_key(h), h.score) for h in hits)
        if n % 100 == 0:
            logger.info("  %d/%d queries", n, len(dataset.queries))
    return rankings, counts, latencies, time.perf_counter() - started


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 1024)


def _write_cache_note(folder: Path, spec: PipelineBase, config: Any, dataset_note: dict[str, Any]) -> None:
    """A human-readable note of what a cache entry holds (never read back; the last suite to use it wins)."""
    folder.mkdir(parents=True, exist_ok=True)
    note = {
        **dataset_note,
        "pipeline": spec.label,
        "config": configs.config_dict(config),
    }
    (folder / "about.json").write_text(json.dumps(note, indent=1, default=str), encoding="utf-8")
