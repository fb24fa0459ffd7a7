"""Quality gates: thresholds that fail a run when a pipeline's metric is on the wrong side.

``fail_under`` gates higher-is-better metrics (fails below the threshold), ``fail_over``
lower-is-better ones (fails above). Retrieval metrics are all higher-is-better; answer
suites have both kinds (see :mod:`rag_app.evaluation.answer_metrics`). Every gate prints
one line in one style: ``PASS local: correct = 0.8000 >= 0.75``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rag_app.errors import ConfigError
from rag_app.evaluation.answer_metrics import gate_key
from rag_app.evaluation.metrics import MetricName, MetricNameError
from rag_app.evaluation.suite import Suite

GateDirection = Literal["fail_under", "fail_over"]
SuiteKind = Literal["retrieval", "answers"]


@dataclass(frozen=True)
class GateResult:
    """One threshold checked against one pipeline (``value`` None: the metric could not be measured)."""

    label: str
    metric: str
    threshold: float
    value: float | None
    direction: GateDirection = "fail_under"

    @property
    def passed(self) -> bool:
        if self.value is None or math.isnan(self.value):
            return False
        return self.value >= self.threshold if self.direction == "fail_under" else self.value <= self.threshold

    def line(self) -> str:
        return gate_line(self.label, self.metric, self.value, self.threshold, self.direction, self.passed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.label,
            "metric": self.metric,
            "threshold": self.threshold,
            "value": self.value,
            "passed": self.passed,
            "direction": self.direction,
        }


def gate_line(label: str, metric: str, value: float | None, threshold: float, direction: str, passed: bool) -> str:
    """``PASS local: correct = 0.8000 >= 0.75`` / ``FAIL local: ttft_p50_s = 5.1000 > 4``."""
    verdict = "PASS" if passed else "FAIL"
    over = direction == "fail_over"
    if value is None:
        return f"{verdict} {label}: {metric} not measured (see the report), gate {'<=' if over else '>='} {threshold:g}"
    sign = {(False, True): ">=", (False, False): "<", (True, True): "<=", (True, False): ">"}[(over, passed)]
    return f"{verdict} {label}: {metric} = {value:.4f} {sign} {threshold:g}"


def parse_gate_args(items: Iterable[str], flag: str = "--fail-under") -> dict[str, float]:
    """``["correct=0.8"]`` -> ``{"correct": 0.8}``; names are checked later, against the suite's kind."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{flag} {item!r}: write METRIC=VALUE, e.g. ndcg@10=0.6 or correct=0.75")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: {value!r} is not a number") from None
    return out


def parse_fail_under(items: Iterable[str]) -> dict[str, float]:
    """``["ndcg@10=0.6", "recall@100=0.9"]`` -> ``{"ndcg@10": 0.6, "recall@100": 0.9}`` (retrieval names)."""
    return normalise_gates(parse_gate_args(items), "retrieval", "fail_under", flag="--fail-under")


def normalise_gates(
    values: Mapping[str, float], kind: SuiteKind, direction: GateDirection, *, flag: str | None = None
) -> dict[str, float]:
    """Canonical metric keys for ``kind``'s gates; one-line ConfigError for a name that is not one."""
    out: dict[str, float] = {}
    where = flag or direction
    for name, threshold in values.items():
        try:
            out[gate_name(name, kind, direction)] = threshold
        except ValueError as exc:
            raise ConfigError(f"{where} {name}={threshold:g}: {exc}") from exc
    return out


def gate_name(name: str, kind: SuiteKind, direction: GateDirection) -> str:
    """The canonical key of one gate, or ValueError saying why it is not one for this kind of suite."""
    if kind == "answers":
        return gate_key(name, "higher" if direction == "fail_under" else "lower")
    if direction == "fail_over":
        raise ValueError("retrieval metrics are higher-is-better: gate them with fail_under")
    try:
        return MetricName.parse(name, need_cutoff=True).key
    except MetricNameError as exc:
        raise ValueError(str(exc)) from exc


def split_gates(
    values: Mapping[str, float], kind: SuiteKind, direction: GateDirection
) -> tuple[dict[str, float], list[str]]:
    """The gates (canonical keys) a suite of ``kind`` has a metric for, and the names it has none for."""
    known, unknown = {}, []
    for name, value in values.items():
        try:
            known[gate_name(name, kind, direction)] = value
        except ValueError:
            unknown.append(name)
    return known, unknown


def thresholds_for(suite: Suite, label: str, cli: Mapping[str, float]) -> dict[str, float]:
    """Suite-wide gates, then the pipeline's own, then the command line's (later wins)."""
    spec = next(p for p in suite.pipelines if p.label == label)
    return {**suite.fail_under, **spec.fail_under, **cli}


def evaluate_gates(
    label: str,
    means: Mapping[str, float],
    under: Mapping[str, float],
    over: Mapping[str, float] | None = None,
) -> list[GateResult]:
    """Every threshold of one pipeline against its means (a metric missing from ``means`` fails)."""
    results = []
    sides: tuple[tuple[GateDirection, Mapping[str, float]], ...] = (("fail_under", under), ("fail_over", over or {}))
    for direction, thresholds in sides:
        for metric, threshold in sorted(thresholds.items()):
            value = means.get(metric)
            results.append(GateResult(label, metric, threshold, None if value is None else float(value), direction))
    return results


def check_gates(
    suite: Suite, means: Mapping[str, Mapping[str, float]], cli: Mapping[str, float], labels: Sequence[str]
) -> list[GateResult]:
    """Check every threshold of a retrieval suite against every pipeline run (``means[label][metric]``)."""
    return [r for label in labels for r in evaluate_gates(label, means[label], thresholds_for(suite, label, cli))]
