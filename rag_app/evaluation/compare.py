"""``rag eval compare A B``: metric deltas between two report folders, with paired tests.

For each pipeline label present in both reports and each metric in both, the
per-query values are paired by query id and tested with a paired t-test and a
paired randomization (sign-flip permutation) test of the mean difference.

Answer reports work the same way: a metric is paired over the questions that have
a per-question value of it in both reports (``correct`` over answerable questions,
``abstention`` over unanswerable ones, ``citation_precision`` and its macro
average over answers with citations, each answer's own precision; a report maps
such metrics to their per-question key in ``method.per_query_keys``). Aggregates without per-question values
(``ttft_p50_s`` ...) get a delta and no test (p shown as ``-``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag_app.errors import ConfigError, MissingDependencyError


@dataclass(frozen=True)
class MetricDelta:
    """One metric of one pipeline, A versus B (delta = B - A)."""

    label: str
    metric: str
    a: float
    b: float
    delta: float
    n: int
    p_ttest: float | None
    p_randomization: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """The result of comparing two reports."""

    a: str
    b: str
    deltas: list[MetricDelta]
    only_a: list[str]
    only_b: list[str]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "deltas": [d.as_dict() for d in self.deltas],
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            "warnings": self.warnings,
        }


def load_report(path: Path) -> dict[str, Any]:
    """Read ``metrics.json`` from a report folder (or the file itself)."""
    file = path / "metrics.json" if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"no eval report at {path} (expected a folder with metrics.json)")
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from exc
    if "pipelines" not in data:
        raise ConfigError(f"{file}: not an eval report (no 'pipelines')")
    return data


def compare_reports(path_a: Path, path_b: Path, *, resamples: int = 10000, seed: int = 0) -> Comparison:
    """Compare every pipeline and metric the two reports share."""
    a, b = load_report(path_a), load_report(path_b)
    warnings = []
    sums_a, sums_b = a.get("dataset", {}).get("checksums"), b.get("dataset", {}).get("checksums")
    if sums_a != sums_b:
        warnings.append("the two reports used different dataset files or versions")
    labels_a, labels_b = list(a["pipelines"]), list(b["pipelines"])
    deltas = []
    for label in [x for x in labels_a if x in labels_b]:
        pa, pb = a["pipelines"][label], b["pipelines"][label]
        qa, qb = pa["per_query"], pb["per_query"]
        common = sorted(set(qa) & set(qb))
        if len(common) < max(len(qa), len(qb)):
            warnings.append(f"{label}: {len(common)} queries in common ({len(qa)} in A, {len(qb)} in B)")
        keys = {**a.get("method", {}).get("per_query_keys", {}), **b.get("method", {}).get("per_query_keys", {})}
        for metric in [m for m in pa["metrics"] if m in pb["metrics"]]:
            key = keys.get(metric, metric)
            paired = [q for q in common if key in qa[q] and key in qb[q]]
            xa = np.array([qa[q][key] for q in paired], dtype=float)
            xb = np.array([qb[q][key] for q in paired], dtype=float)
            deltas.append(
                MetricDelta(
                    label=label,
                    metric=metric,
                    a=float(pa["metrics"][metric]),
                    b=float(pb["metrics"][metric]),
                    delta=float(pb["metrics"][metric]) - float(pa["metrics"][metric]),
                    n=len(paired),
                    p_ttest=paired_ttest(xa, xb) if paired else None,
                    p_randomization=paired_randomization(xa, xb, resamples=resamples, seed=seed) if paired else None,
                )
            )
    return Comparison(
        a=str(path_a),
        b=str(path_b),
        deltas=deltas,
        only_a=[x for x in labels_a if x not in labels_b],
        only_b=[x for x in labels_b if x not in labels_a],
        warnings=warnings,
    )


def paired_ttest(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test p-value (1.0 when every difference is identical)."""
    stats = _scipy_stats()
    diff = b - a
    if len(diff) < 2 or np.allclose(diff, diff[0]):
        return 1.0 if len(diff) < 2 or np.isclose(diff[0], 0.0) else 0.0
    p = float(stats.ttest_rel(b, a).pvalue)
    return 1.0 if math.isnan(p) else p


def paired_randomization(a: np.ndarray, b: np.ndarray, *, resamples: int = 10000, seed: int = 0) -> float:
    """Two-sided paired randomization test: randomly swap A/B per query (sign flips)."""
    stats = _scipy_stats()
    if len(a) == 0 or np.allclose(a, b):
        return 1.0

    def mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> Any:
        return np.mean(x - y, axis=axis)

    result = stats.permutation_test(
        (b, a),
        mean_diff,
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        random_state=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def format_comparison(c: Comparison) -> str:
    """A plain-text table of deltas (B - A), one row per pipeline and metric."""
    lines = [f"A: {c.a}", f"B: {c.b}"]
    lines += [f"warning: {w}" for w in c.warnings]
    if c.only_a or c.only_b:
        lines.append(f"only in A: {', '.join(c.only_a) or '-'}; only in B: {', '.join(c.only_b) or '-'}")
    if not c.deltas:
        lines.append("no pipeline and metric in common")
        return "\n".join(lines)
    width = max(12, *(len(d.metric) for d in c.deltas))
    head = f"{'pipeline':<20} {'metric':<{width}} {'A':>8} {'B':>8} {'B-A':>8} {'p(t)':>8} {'p(rand)':>8}  n"
    lines += [head, "-" * len(head)]
    for d in c.deltas:
        tested = [p for p in (d.p_ttest, d.p_randomization) if p is not None]
        mark = " *" if tested and min(tested) < 0.05 and d.delta != 0 else ""
        lines.append(
            f"{d.label:<20} {d.metric:<{width}} {d.a:8.4f} {d.b:8.4f} {d.delta:+8.4f} "
            f"{_p(d.p_ttest):>8} {_p(d.p_randomization):>8}  {d.n}{mark}"
        )
    lines.append("* p < 0.05 in at least one paired test (two-sided)")
    if any(d.p_ttest is None for d in c.deltas):
        lines.append("- no per-question values to pair (an aggregate such as a percentile): delta only")
    return "\n".join(lines)


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or "scipy", "eval", "rag eval compare") from exc
    return stats
