"""Retrieval metrics, computed by ir-measures (trec_eval via pytrec_eval, and msmarco for RR@k).

Two things are done here rather than in the library, on purpose:

* Retrieval is at chunk level, relevance judgements at document level, so each
  query's chunks are first aggregated per document with ``max`` and ranked by
  (score descending, document id ascending). The ranked list is handed to the
  library with strictly decreasing rank-derived scores, so every tool sees the
  same order (trec_eval would otherwise break ties by document id descending).
* Every judged query is in the average: one that retrieved nothing, or is
  missing from the run, scores 0 on every metric (trec_eval drops queries
  absent from the run; ir-measures' behaviour has varied between versions).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag_app.errors import MissingDependencyError

logger = logging.getLogger(__name__)

Qrels = Mapping[str, Mapping[str, int]]
Ranking = list[tuple[str, float]]
"""Documents of one query, best first, with their (max-aggregated) scores."""

#: family -> (ir-measures name, display name)
FAMILIES: dict[str, tuple[str, str]] = {
    "ndcg": ("nDCG", "nDCG"),
    "recall": ("R", "Recall"),
    "p": ("P", "P"),
    "mrr": ("RR", "MRR"),
    "map": ("AP", "MAP"),
    "hit": ("Success", "Hit"),
}
_ALIASES = {
    "ndcg": "ndcg",
    "recall": "recall",
    "r": "recall",
    "p": "p",
    "precision": "p",
    "mrr": "mrr",
    "rr": "mrr",
    "map": "map",
    "ap": "map",
    "hit": "hit",
    "hit_rate": "hit",
    "hitrate": "hit",
    "success": "hit",
}
DEFAULT_FAMILIES = ("ndcg", "recall", "p", "mrr", "map", "hit")
DEFAULT_CUTOFFS = (1, 3, 5, 10, 100)
AGGREGATION_NOTE = (
    "Chunks are aggregated per document with max(score) before scoring; documents are ranked by "
    "score descending, ties broken by document id ascending. Every judged query counts: a query "
    "that retrieved no relevant document (or nothing at all) scores 0."
)
_NAME = re.compile(r"^\s*([A-Za-z_]+)\s*(?:@\s*(\d+))?\s*$")


class MetricNameError(ValueError):
    """A metric name that is not one of the supported families."""


@dataclass(frozen=True, order=True)
class MetricName:
    """A metric family with an optional cut-off, e.g. ``ndcg@10``."""

    family: str
    k: int | None = None

    @classmethod
    def parse(cls, text: str, *, need_cutoff: bool = True) -> MetricName:
        """Parse ``nDCG@10``, ``recall@100``, ``MRR@10``, ``hit@5`` ... (case-insensitive)."""
        match = _NAME.match(str(text))
        family = _ALIASES.get(match.group(1).lower()) if match else None
        if match is None or family is None:
            valid = ", ".join(f"{f}@k" for f in FAMILIES)
            raise MetricNameError(f"unknown metric {text!r}; valid: {valid}")
        k = int(match.group(2)) if match.group(2) else None
        if k is not None and k <= 0:
            raise MetricNameError(f"metric {text!r}: the cut-off must be positive")
        if need_cutoff and k is None:
            raise MetricNameError(f"metric {text!r} needs a cut-off, e.g. {family}@10")
        return cls(family, k)

    @property
    def key(self) -> str:
        """Canonical name used in metrics.json, gates and reports (``ndcg@10``)."""
        return self.family if self.k is None else f"{self.family}@{self.k}"

    @property
    def display(self) -> str:
        name = FAMILIES[self.family][1]
        return name if self.k is None else f"{name}@{self.k}"

    @property
    def library(self) -> str:
        """The ir-measures spelling (``nDCG@10``, ``R@100``, ``RR@10``, ``Success@10``)."""
        name = FAMILIES[self.family][0]
        return name if self.k is None else f"{name}@{self.k}"


def expand_metrics(families: Iterable[str], cutoffs: Sequence[int], extra: Iterable[str] = ()) -> list[MetricName]:
    """``ndcg`` x cut-offs -> ndcg@1 ... ; explicit ``ndcg@20`` kept as is; sorted, unique."""
    out: set[MetricName] = set()
    for text in [*families, *extra]:
        name = MetricName.parse(text, need_cutoff=False)
        out.update([name] if name.k is not None else [MetricName(name.family, k) for k in cutoffs])
    return sorted(out, key=lambda m: (list(FAMILIES).index(m.family), m.k or 0))


def rank_documents(hits: Iterable[tuple[str, float]]) -> Ranking:
    """Aggregate chunk hits ``(doc_id, score)`` per document with max; order (score desc, doc id)."""
    best: dict[str, float] = {}
    for doc, score in hits:
        if doc not in best or score > best[doc]:
            best[doc] = float(score)
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def as_library_run(rankings: Mapping[str, Ranking]) -> dict[str, dict[str, float]]:
    """Rankings as a run with strictly decreasing scores, so no tool re-breaks ties."""
    return {qid: {doc: float(len(r) - i) for i, (doc, _) in enumerate(r)} for qid, r in rankings.items()}


def evaluate(
    qrels: Qrels, rankings: Mapping[str, Ranking], metrics: Sequence[MetricName]
) -> dict[str, dict[str, float]]:
    """Per-query values ``{query_id: {metric_key: value}}`` for every judged query.

    Args:
        qrels: The judged queries to evaluate (``{query_id: {doc_id: relevance}}``).
        rankings: Each query's ranked documents; queries absent here score 0.
        metrics: Metrics with cut-offs.
    """
    ir_measures = _import_ir_measures()
    by_library = {ir_measures.parse_measure(m.library): m.key for m in metrics}
    lib_qrels = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    run = as_library_run({q: r for q, r in rankings.items() if q in lib_qrels and r})
    values: dict[str, dict[str, float]] = {q: {} for q in lib_qrels}
    if run:
        for row in ir_measures.iter_calc(list(by_library), lib_qrels, run):
            if row.query_id in values:
                values[row.query_id][by_library[row.measure]] = float(row.value)
    filled = 0
    for per_query in values.values():
        for key in by_library.values():
            if key not in per_query:
                per_query[key] = 0.0
                filled += 1
    if filled:
        logger.debug("filled %d missing (query, metric) values with 0", filled)
    return values


def mean_values(per_query: Mapping[str, Mapping[str, float]], keys: Iterable[str]) -> dict[str, float]:
    """Mean of each metric over all queries in ``per_query`` (0 when there are none)."""
    n = len(per_query)
    return {k: (sum(v[k] for v in per_query.values()) / n if n else 0.0) for k in keys}


def _import_ir_measures() -> Any:
    try:
        import ir_measures
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or "ir_measures", "eval", "rag eval") from exc
    return ir_measures
