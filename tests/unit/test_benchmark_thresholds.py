"""The threshold rule the judge benchmarks (eval/benchmarks/judge_cues.py, judge_combinations.py) share."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "thresholds", Path(__file__).resolve().parents[2] / "eval" / "benchmarks" / "thresholds.py"
)
assert _SPEC is not None and _SPEC.loader is not None
thresholds = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(thresholds)


def test_the_most_abstention_within_the_refusal_budget_wins() -> None:
    # 10 answerable questions (one at 0.2, the rest high) and 4 unanswerable ones, one refused by the floor
    judged = [(True, 0.2), *[(True, 0.8 + i / 100) for i in range(9)], (False, None), (False, 0.1), (False, 0.3),
              (False, 0.85)]
    choice = thresholds.choose(judged)
    # refusing below 0.3 catches 0.1 and the floor's (2 of 4) and refuses 0.2 (1 of 10 = the 10% budget);
    # below 0.8 would catch 0.3 too (3 of 4) at the same single refusal
    assert choice.threshold == 0.8 and choice.abstention == 0.75 and choice.false_abstention == 0.1
    strict = thresholds.choose(judged, max_false=0.0)
    assert strict.threshold == 0.2 and strict.abstention == 0.5  # below the lowest answerable score
    assert thresholds.choose([(True, 0.1), (False, None), (False, 0.5)], max_false=0.0).threshold == -math.inf
    assert thresholds.rates(judged, 0.81) == (0.75, 0.2)
