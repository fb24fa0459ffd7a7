"""Quality gates: ``metric=value`` thresholds that fail a run when a pipeline falls below."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rag_app.errors import ConfigError
from rag_app.evaluation.metrics import MetricName, MetricNameError
from rag_app.evaluation.suite import Suite


@dataclass(frozen=True)
class GateResult:
    """One threshold checked against one pipeline."""

    label: str
    metric: str
    threshold: float
    value: float

    @property
    def passed(self) -> bool:
        return self.value >= self.threshold

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        sign = ">=" if self.passed else "<"
        return f"{verdict} {self.label}: {self.metric} = {self.value:.4f} {sign} {self.threshold:g}"


def parse_fail_under(items: Iterable[str]) -> dict[str, float]:
    """``["ndcg@10=0.6", "recall@100=0.9"]`` -> ``{"ndcg@10": 0.6, "recall@100": 0.9}``."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--fail-under {item!r}: write METRIC=VALUE, e.g. ndcg@10=0.6")
        try:
            key = MetricName.parse(name, need_cutoff=True).key
            out[key] = float(value)
        except MetricNameError as exc:
            raise ConfigError(f"--fail-under {item!r}: {exc}") from exc
        except ValueError:
            raise ConfigError(f"--fail-under {item!r}: {value!r} is not a number") from None
    return out


def thresholds_for(suite: Suite, label: str, cli: Mapping[str, float]) -> dict[str, float]:
    """Suite-wide gates, then the pipeline's own, then the command line's (later wins)."""
    spec = next(p for p in suite.pipelines if p.label == label)
    return {**suite.fail_under, **spec.fail_under, **cli}


def check_gates(
    suite: Suite, means: Mapping[str, Mapping[str, float]], cli: Mapping[str, float], labels: Sequence[str]
) -> list[GateResult]:
    """Check every threshold against every pipeline run (``means[label][metric]``)."""
    results = []
    for label in labels:
        for metric, threshold in sorted(thresholds_for(suite, label, cli).items()):
            results.append(GateResult(label, metric, threshold, float(means[label][metric])))
    return results
