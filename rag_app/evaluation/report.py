"""Writes a run's report folder: metrics.json, one run.trec per pipeline, report.md/html, plots."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag_app.evaluation import provenance
from rag_app.evaluation.datasets import EvalDataset
from rag_app.evaluation.gates import GateResult
from rag_app.evaluation.metrics import AGGREGATION_NOTE
from rag_app.evaluation.plots import write_plots
from rag_app.evaluation.render import to_html, to_markdown
from rag_app.evaluation.report_doc import build_doc
from rag_app.evaluation.runner import PipelineRun
from rag_app.evaluation.suite import Suite

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def new_report_dir(reports_dir: Path, suite_name: str, now: dt.datetime) -> Path:
    """``<reports_dir>/<UTC timestamp>-<suite name>`` (suffixed if it already exists)."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = reports_dir / f"{stamp}-{suite_name}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


def run_header(suite: Any, command: str, started: dt.datetime, seconds: float) -> dict[str, Any]:
    """What every report records about its run: the suite, when, how long, the command, provenance."""
    suite_file = suite.source
    return {
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "path": str(suite_file) if suite_file else None,
            "sha256": hashlib.sha256(suite_file.read_bytes()).hexdigest() if suite_file else None,
            "resolved": suite.model_dump(mode="json"),
        },
        "created_utc": started.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(seconds, 3),
        "command": command,
        "git": provenance.git_info(suite_file.parent if suite_file else Path.cwd()),
        "machine": provenance.machine(),
        "packages": provenance.package_versions(),
    }


def build_metrics(
    suite: Suite,
    dataset: EvalDataset,
    runs: Sequence[PipelineRun],
    gates: Sequence[GateResult],
    *,
    command: str,
    started: dt.datetime,
    seconds: float,
) -> dict[str, Any]:
    """Everything the report says, as JSON-able data (metrics.json)."""
    return {
        "format_version": FORMAT_VERSION,
        **run_header(suite, command, started, seconds),
        "dataset": {
            "name": dataset.name,
            "type": dataset.type,
            "path": str(dataset.path),
            "corpus": str(dataset.corpus_path),
            "split": dataset.split,
            "queries_evaluated": len(dataset.qrels),
            "queries_without_judgements": dataset.skipped_unjudged,
            "checksums": dataset.checksums,
        },
        "method": {
            "aggregation": AGGREGATION_NOTE,
            "library": "ir-measures (trec_eval semantics: nDCG with linear gain and log2 discount)",
            "metrics": [m.key for m in suite.metric_names([g.metric for g in gates])],
        },
        "gates": [g.as_dict() for g in gates],
        "pipelines": {r.label: _pipeline_json(suite, r) for r in runs},
    }


def _pipeline_json(suite: Suite, run: PipelineRun) -> dict[str, Any]:
    spec = next(p for p in suite.pipelines if p.label == run.label)
    return {
        "config_path": run.config_path,
        "config_hash": run.config_hash,
        "config": run.config,
        "fingerprint": run.fingerprint,
        "cache": {"key": run.cache_key, "dir": run.cache_dir, "reused": run.reused_cache},
        "ingest": {**run.ingest, "wall_seconds": round(run.ingest_wall_s, 3)},
        "retrieval_depth": run.depth,
        "metrics": run.means,
        "published": spec.published.model_dump() if spec.published else None,
        "recall_curve": {str(k): v for k, v in run.recall_curve.items()},
        "latency_ms": run.latency_ms,
        "query_wall_seconds": round(run.query_wall_s, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "per_query": run.per_query,
        "per_query_latency_ms": run.query_latency_ms,
        "chunks_retrieved": run.chunks_retrieved,
    }


def write_trec(run: PipelineRun, path: Path) -> None:
    """The ranked documents as a TREC run file: ``qid Q0 doc rank score tag``."""
    tag = re.sub(r"\s+", "_", run.label)
    with path.open("w", encoding="utf-8") as fh:
        for qid, ranking in run.rankings.items():
            for rank, (doc, score) in enumerate(ranking, 1):
                fh.write(f"{_trec_id(qid)} Q0 {_trec_id(doc)} {rank} {score:.6f} {tag}\n")


def _trec_id(value: str) -> str:
    """TREC files are whitespace-separated: escape whitespace (and '%') in ids."""
    return re.sub(r"[%\s]", lambda m: f"%{ord(m.group()):02X}", value)


def write_report(
    folder: Path,
    suite: Suite,
    dataset: EvalDataset,
    runs: Sequence[PipelineRun],
    gates: Sequence[GateResult],
    *,
    command: str,
    started: dt.datetime,
    seconds: float,
    plots: bool = True,
) -> dict[str, Any]:
    """Write every report file into ``folder`` and return the metrics.json data."""
    data = build_metrics(suite, dataset, runs, gates, command=command, started=started, seconds=seconds)
    (folder / "metrics.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    for run in runs:
        write_trec(run, folder / f"{run.label}.run.trec")
    images = write_plots(runs, folder / "plots") if plots else []
    doc = build_doc(data, [(f"plots/{name}", caption) for name, caption in images])
    (folder / "report.md").write_text(to_markdown(doc), encoding="utf-8")
    (folder / "report.html").write_text(to_html(doc), encoding="utf-8")
    logger.info("report written to %s", folder)
    return data
