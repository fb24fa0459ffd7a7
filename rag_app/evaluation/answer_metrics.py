"""Answer metrics: their names, directions and display names, and the per-pipeline aggregates.

Per-question values come from :mod:`rag_app.evaluation.answer_scoring`; this module
averages them. Every aggregate has a fixed population (see :data:`METRICS`), so
abstaining can neither inflate nor hide a number: ``correct`` and ``cited`` count
an abstention on an answerable question as 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rag_app.evaluation.metrics import MetricName

Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class AnswerMetric:
    """One aggregate: whether higher is better, its display name and what it averages over."""

    direction: Direction
    display: str
    population: str


#: key -> metric. Higher-is-better keys are gated with ``fail_under``, lower-is-better with ``fail_over``.
METRICS: dict[str, AnswerMetric] = {
    "correct": AnswerMetric("higher", "Correct", "answerable questions"),
    "fact_recall": AnswerMetric("higher", "Fact recall", "answerable questions"),
    "citation_precision": AnswerMetric("higher", "Cit. precision", "all (sentence, citation) pairs (micro)"),
    "citation_precision_macro": AnswerMetric("higher", "Cit. precision (macro)", "answers with citations"),
    "cited": AnswerMetric("higher", "Cited", "answerable questions"),
    "abstention": AnswerMetric("higher", "Abstention", "unanswerable questions"),
    "source_in_prompt": AnswerMetric("higher", "Source in prompt", "answerable questions"),
    "pipeline_supported_rate": AnswerMetric("higher", "Pipeline-supported", "citations the pipeline checked"),
    "false_abstention": AnswerMetric("lower", "False abst.", "answerable questions"),
    "ttft_p50_s": AnswerMetric("lower", "TTFT p50 s", "all questions"),
    "ttft_p95_s": AnswerMetric("lower", "TTFT p95 s", "all questions"),
    "total_p50_s": AnswerMetric("lower", "Total p50 s", "all questions"),
    "total_p95_s": AnswerMetric("lower", "Total p95 s", "all questions"),
    # answer.judge.caution: how often an answer flagged "low confidence" is wrong (an unanswerable
    # question answered, or key facts missing), against one given without the flag.
    "flagged_wrong": AnswerMetric("higher", "Wrong if flagged", "answers flagged low confidence"),
    "unflagged_wrong": AnswerMetric("lower", "Wrong if not flagged", "answers given without the flag"),
}
#: The metrics the CLI summary, the report's summary table and studies show by default.
HEADLINE = (
    "correct",
    "fact_recall",
    "citation_precision",
    "cited",
    "abstention",
    "false_abstention",
    "ttft_p50_s",
    "total_p50_s",
)
_FLAG = {"higher": "fail_under", "lower": "fail_over"}


def gate_key(name: str, direction: Direction) -> str:
    """The canonical key of an answer gate; ValueError naming the valid keys (or the other list)."""
    key = str(name).strip().lower().replace("-", "_")
    metric = METRICS.get(key)
    if metric is not None and metric.direction == direction:
        return key
    valid = ", ".join(k for k, m in METRICS.items() if m.direction == direction)
    if metric is not None:
        raise ValueError(
            f"{name!r} is {metric.direction}-is-better: gate it with {_FLAG[metric.direction]} "
            f"({_FLAG[direction]} takes: {valid})"
        )
    raise ValueError(f"unknown answer metric {name!r} for {_FLAG[direction]}; valid: {valid}")


def check_gate_keys(values: Mapping[str, float], direction: Direction) -> dict[str, float]:
    return {gate_key(k, direction): float(v) for k, v in values.items()}


def display_name(key: str) -> str:
    """``Correct`` for answer metrics, ``nDCG@10`` for retrieval ones."""
    metric = METRICS.get(key)
    return metric.display if metric is not None else MetricName.parse(key, need_cutoff=False).display


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def aggregate(records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, str]]:
    """Per-pipeline means from per-question records (``QuestionResult.as_dict()`` shapes).

    Returns:
        ``(metrics, not_measured)``: a metric with an empty population is left out of
        ``metrics`` and named in ``not_measured`` with the reason.
    """
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not r["abstained"]]
    values: dict[str, float | None] = {
        key: _mean(r["values"][key] for r in answerable)
        for key in ("correct", "fact_recall", "cited", "false_abstention", "source_in_prompt")
    }
    pairs = sum(r["pairs_total"] for r in answered)
    values["citation_precision"] = sum(r["pairs_correct"] for r in answered) / pairs if pairs else None
    values["citation_precision_macro"] = _mean(
        r["values"]["citation_precision"] for r in answered if "citation_precision" in r["values"]
    )
    values["abstention"] = _mean(r["values"]["abstention"] for r in unanswerable)
    flags = [c["supported"] for r in answered for c in r["citations"] if c.get("supported") is not None]
    values["pipeline_supported_rate"] = _mean(1.0 if f else 0.0 for f in flags)
    given = [r for r in records if not r["abstained"]]
    flagged = [r for r in given if r["extra"].get("low_confidence")]
    values["flagged_wrong"] = _mean(_wrong(r) for r in flagged)
    values["unflagged_wrong"] = _mean(_wrong(r) for r in given if r not in flagged)
    ttft = [r["ttft_s"] for r in records]
    total = [r["total_s"] for r in records]
    if records:
        values.update(
            ttft_p50_s=percentile(ttft, 50),
            ttft_p95_s=percentile(ttft, 95),
            total_p50_s=percentile(total, 50),
            total_p95_s=percentile(total, 95),
        )
    reasons = {
        "answerable questions": "no answerable questions",
        "unanswerable questions": "no unanswerable questions",
        "all (sentence, citation) pairs (micro)": "no answer cited a source",
        "answers with citations": "no answer cited a source",
        "citations the pipeline checked": "the pipeline marked no citation supported or unsupported",
        "all questions": "no questions",
        "answers flagged low confidence": "no answer was flagged (answer.judge.caution unset or never below it)",
        "answers given without the flag": "every answer was flagged or refused",
    }
    metrics = {k: float(v) for k, v in values.items() if v is not None}
    missing = {k: reasons[METRICS[k].population] for k in METRICS if k not in metrics}
    return metrics, missing


def _wrong(record: Mapping[str, Any]) -> float:
    """1.0 for a given answer that should not be trusted: to an unanswerable question, or incorrect."""
    return 0.0 if record["answerable"] and record["values"].get("correct") else 1.0


def by_kind(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """``correct`` / ``false_abstention`` (answerable) and ``abstention`` (unanswerable) per question kind."""
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted({str(r["kind"]) for r in records}):
        rows = [r for r in records if r["kind"] == kind]
        ans = [r for r in rows if r["answerable"]]
        una = [r for r in rows if not r["answerable"]]
        out[kind] = {
            "questions": len(rows),
            "answerable": len(ans),
            "unanswerable": len(una),
            "correct": _mean(r["values"]["correct"] for r in ans),
            "false_abstention": _mean(r["values"]["false_abstention"] for r in ans),
            "abstention": _mean(r["values"]["abstention"] for r in una),
        }
    return out


def counts(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many questions, abstentions, citations ... (the denominators of the means)."""
    answerable = [r for r in records if r["answerable"]]
    answered = [r for r in answerable if not r["abstained"]]
    reasons = Counter(str(r["extra"].get("abstain_reason") or "unspecified") for r in records if r["abstained"])
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(records) - len(answerable),
        "abstained": sum(1 for r in records if r["abstained"]),
        "low_confidence": sum(1 for r in records if not r["abstained"] and r["extra"].get("low_confidence")),
        "answered_answerable": len(answered),
        "answers_with_citations": sum(1 for r in answered if r["pairs_total"]),
        "citation_pairs": sum(r["pairs_total"] for r in answered),
        "correct_citation_pairs": sum(r["pairs_correct"] for r in answered),
        "invalid_citations": sum(len(r["invalid_citations"]) for r in records),
        "abstain_reasons": dict(sorted(reasons.items())),
    }
