"""Writes an answer suite's report folder: metrics.json, answers.jsonl, report.md/html, plots.

metrics.json has the same top-level shape and provenance as a retrieval report
(``suite``, ``dataset``, ``method``, ``gates``, ``pipelines.<label>.metrics`` /
``per_query`` / ``latency_ms`` ...) plus ``"kind": "answers"``, so ``rag eval
compare``, studies and the UI's evaluation page read both.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag_app.evaluation.answer_metrics import HEADLINE, METRICS, by_kind, counts, display_name
from rag_app.evaluation.answer_runner import AnswerRun
from rag_app.evaluation.answer_suite import AnswerSuite
from rag_app.evaluation.answers import AnswerDataset
from rag_app.evaluation.gates import GateResult
from rag_app.evaluation.render import Bullets, Doc, Heading, Image, Para, Table, to_html, to_markdown
from rag_app.evaluation.report import FORMAT_VERSION, run_header
from rag_app.evaluation.report_doc import environment_blocks, gate_blocks, header_blocks
from rag_app.evaluation.runner import latency_stats

logger = logging.getLogger(__name__)

METHOD_NOTE = (
    "Facts and citations are judged by string matching on normalised text (no model judge): "
    "correct = every key fact has an alternative in the answer (abstaining scores 0); a citation "
    "of a sentence stating a key fact is correct when the cited chunk contains one of those facts, "
    "otherwise when the chunk's file is an expected source. citation_precision is micro-averaged "
    "over all (sentence, citation) pairs (the headline; citation_precision_macro averages per answer); "
    "cited and correct are over all answerable questions; abstention is over unanswerable ones. "
    "Time to first token is wall clock from stream() (retrieval included) to the first non-empty piece."
)
_MAX_LISTED = 100


def build_answer_metrics(
    suite: AnswerSuite,
    dataset: AnswerDataset,
    runs: Sequence[AnswerRun],
    gates: Sequence[GateResult],
    *,
    command: str,
    started: dt.datetime,
    seconds: float,
) -> dict[str, Any]:
    """Everything the report says, as JSON-able data (metrics.json)."""
    answerable = sum(1 for q in dataset.questions if q.answerable)
    return {
        "format_version": FORMAT_VERSION,
        "kind": "answers",
        **run_header(suite, command, started, seconds),
        "dataset": {
            "name": dataset.name,
            "type": "answers",
            "path": str(dataset.path),
            "corpus": str(dataset.corpus_path),
            "split": None,
            "queries_evaluated": len(dataset.questions),
            "queries_without_judgements": 0,
            "questions_in_file": dataset.questions_in_file,
            "answerable": answerable,
            "unanswerable": len(dataset.questions) - answerable,
            "checksums": dataset.checksums,
        },
        "method": {
            "aggregation": METHOD_NOTE,
            "library": "rag_app.evaluation.answer_scoring (normalised string matching)",
            "metrics": list(METRICS),
            "headline_citation_precision": "micro",
            # metric -> the per-question key `rag eval compare` pairs it on (default: the same key)
            "per_query_keys": {"citation_precision_macro": "citation_precision"},
            "warmup": suite.warmup,
        },
        "gates": [g.as_dict() for g in gates],
        "pipelines": {r.label: _pipeline_json(r) for r in runs},
    }


def _pipeline_json(run: AnswerRun) -> dict[str, Any]:
    records = run.records
    return {
        "config_path": run.config_path,
        "config_hash": run.config_hash,
        "config": run.config,
        "generator": run.generator,
        "fingerprint": run.fingerprint,
        "cache": {"key": run.cache_key, "dir": run.cache_dir, "reused": run.reused_cache},
        "ingest": {**run.ingest, "wall_seconds": round(run.ingest_wall_s, 3)},
        "retrieval_depth": run.top_k,
        "metrics": run.means,
        "not_measured": run.not_measured,
        "published": None,
        "counts": counts(records),
        "by_kind": by_kind(records),
        "latency_ms": latency_stats([r.total_s * 1000.0 for r in run.results]),
        "ttft_ms": latency_stats([r.ttft_s * 1000.0 for r in run.results]),
        "query_wall_seconds": round(run.query_wall_s, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "per_query": {r.gold.id: r.values for r in run.results},
        "per_query_latency_ms": {r.gold.id: r.total_s * 1000.0 for r in run.results},
    }


def write_answer_report(
    folder: Path,
    suite: AnswerSuite,
    dataset: AnswerDataset,
    runs: Sequence[AnswerRun],
    gates: Sequence[GateResult],
    *,
    command: str,
    started: dt.datetime,
    seconds: float,
    plots: bool = True,
) -> dict[str, Any]:
    """Write metrics.json, answers.jsonl, report.md/html (and plots) into ``folder``."""
    from rag_app.evaluation.plots import write_answer_plots

    data = build_answer_metrics(suite, dataset, runs, gates, command=command, started=started, seconds=seconds)
    (folder / "metrics.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    with (folder / "answers.jsonl").open("w", encoding="utf-8") as fh:
        for run in runs:
            for record in run.records:
                fh.write(json.dumps({"pipeline": run.label, **record}, ensure_ascii=False) + "\n")
    images = write_answer_plots(data, folder / "plots") if plots else []
    doc = build_answer_doc(data, [r.records for r in runs], [(f"plots/{n}", c) for n, c in images])
    (folder / "report.md").write_text(to_markdown(doc), encoding="utf-8")
    (folder / "report.html").write_text(to_html(doc), encoding="utf-8")
    logger.info("report written to %s", folder)
    return data


def build_answer_doc(
    data: dict[str, Any], records: Sequence[Sequence[dict[str, Any]]], plots: Sequence[tuple[str, str]]
) -> Doc:
    """Summary, all metrics, per-kind breakdown, gates, failed questions with their answers, provenance."""
    ds, pipes = data["dataset"], data["pipelines"]
    doc = Doc(f"Answer eval report: {data['suite']['name']}")
    dataset_line = (
        f"Dataset: {ds['name']} (answers), {ds['queries_evaluated']} of {ds['questions_in_file']} questions "
        f"({ds['answerable']} answerable, {ds['unanswerable']} unanswerable), corpus `{ds['corpus']}`"
    )
    doc.add(*header_blocks(data, dataset_line), Para(data["method"]["aggregation"]))
    doc.add(Heading("Summary"), summary_table(pipes))
    keys = list(METRICS)
    doc.add(
        Heading("All metrics"),
        Table(
            ["metric", "over", *pipes],
            [[k, METRICS[k].population, *(_cell(p["metrics"].get(k)) for p in pipes.values())] for k in keys],
            2,
        ),
    )
    doc.add(Heading("By question kind"))
    for label, p in pipes.items():
        rows = [
            [
                kind,
                str(v["questions"]),
                str(v["answerable"]),
                _cell(v["correct"]),
                _cell(v["false_abstention"]),
                str(v["unanswerable"]),
                _cell(v["abstention"]),
            ]
            for kind, v in p["by_kind"].items()
        ]
        header = ["kind", "questions", "answerable", "correct", "false abst.", "unanswerable", "abstention"]
        doc.add(Heading(label, 3), Table(header, rows))
    doc.add(*gate_blocks(data))
    if plots:
        doc.add(Heading("Plots"), *[Image(path, caption) for path, caption in plots])
    doc.add(Heading("Failed questions"))
    doc.add(
        Para(
            "Answerable questions not correct, not cited or with a wrong citation, and unanswerable "
            "questions answered; every question is in answers.jsonl."
        )
    )
    for label, recs in zip(pipes, records, strict=True):
        failed = [r for r in recs if _failure(r)]
        doc.add(Heading(f"{label}: {len(failed)} of {len(recs)}", 3))
        if failed:
            doc.add(Bullets([_failed_line(r) for r in failed[:_MAX_LISTED]]))
        if len(failed) > _MAX_LISTED:
            doc.add(Para(f"... {len(failed) - _MAX_LISTED} more in answers.jsonl."))
    doc.add(Heading("Pipelines"))
    for label, p in pipes.items():
        c, ing = p["counts"], p["ingest"]
        reasons = ", ".join(f"{k} {v}" for k, v in c["abstain_reasons"].items()) or "-"
        doc.add(
            Heading(label, 3),
            Bullets(
                [
                    f"Config: `{p['config_path']}`, hash {p['config_hash'][:12]}; generator "
                    f"{p['generator']['type']} ({p['generator']['name']}); top_k {p['retrieval_depth']}",
                    f"Collection: {'reused (0 embeddings computed)' if p['cache']['reused'] else 'built'}, "
                    f"key {p['cache']['key']} in `{p['cache']['dir']}`; ingest {ing['wall_seconds']:.1f} s",
                    f"{c['questions']} questions: {c['abstained']} abstained ({reasons}); "
                    f"{c['citation_pairs']} citation pairs ({c['correct_citation_pairs']} correct) in "
                    f"{c['answers_with_citations']} answers; {c['invalid_citations']} invalid citation numbers",
                    f"Answering took {p['query_wall_seconds']:.1f} s; peak RSS {p['peak_rss_mb']:.0f} MB",
                    *[f"Not measured: {k} ({why})" for k, why in p["not_measured"].items()],
                ]
            ),
        )
    doc.add(*environment_blocks(data))
    return doc


def summary_table(pipes: dict[str, Any]) -> Table:
    header = ["pipeline", "questions", *(display_name(k) for k in HEADLINE)]
    rows = [
        [label, str(p["counts"]["questions"]), *(_cell(p["metrics"].get(k)) for k in HEADLINE)]
        for label, p in pipes.items()
    ]
    return Table(header, rows)


def format_answer_summary(data: dict[str, Any]) -> str:
    """The terminal summary of ``rag eval`` on an answer suite."""
    ds = data["dataset"]
    lines = [
        f"{ds['name']}: {ds['queries_evaluated']} questions ({ds['answerable']} answerable, "
        f"{ds['unanswerable']} unanswerable)"
    ]
    table = summary_table(data["pipelines"])
    widths = [max(len(str(c)) for c in col) for col in zip(table.header, *table.rows, strict=True)]
    for cells in (table.header, *table.rows):
        lines.append(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    for label, p in data["pipelines"].items():
        if p["cache"]["reused"]:
            lines.append(f"{label}: cached index")
    return "\n".join(lines)


def _failure(r: dict[str, Any]) -> bool:
    v = r["values"]
    if not r["answerable"]:
        return not r["abstained"]
    return bool(v["correct"] < 1 or v["cited"] < 1 or v.get("citation_precision", 1.0) < 1)


def _failed_line(r: dict[str, Any]) -> str:
    v = r["values"]
    if not r["answerable"]:
        why = "answered an unanswerable question"
    elif r["abstained"]:
        why = f"abstained ({r['extra'].get('abstain_reason') or 'reason not given'})"
    else:
        missing = "; ".join(" | ".join(f) for f in r["facts_missing"])
        parts = [f"missing facts: {missing}" if missing else "all facts present"]
        if v["cited"] < 1:
            parts.append("no correct citation")
        elif v.get("citation_precision", 1.0) < 1:
            parts.append(f"citation precision {v['citation_precision']:.2f}")
        why = ", ".join(parts)
    if r["answerable"]:
        why += f"; expected source {'in' if v['source_in_prompt'] else 'NOT in'} the prompt"
    cites = ", ".join(f"[{c['number']}] {c['relpath']} {'ok' if c['correct'] else 'wrong'}" for c in r["citations"])
    text = " ".join(r["answer"].split()).replace("`", "'")
    text = text if len(text) <= 600 else text[:600] + " ..."
    return f"{r['id']} ({r['kind']}): {why}. Q: {r['question']} A: {text}" + (f" Cited: {cites}" if cites else "")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
