"""eval/benchmarks/abstention_calibration.py --caution: how often flagged and unflagged answers are wrong."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "eval" / "benchmarks" / "abstention_calibration.py"
_SPEC = importlib.util.spec_from_file_location("abstention_calibration", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
calibration = importlib.util.module_from_spec(_SPEC)
sys.modules["abstention_calibration"] = calibration  # dataclasses look their module up by name
_SPEC.loader.exec_module(calibration)


def row(rid: str, p: float | None, *, answerable: bool = True, correct: bool = True,
        abstained: bool = False) -> object:
    return calibration.Row(rid, "number", answerable, abstained, p, False, correct, correct, (1, 1))


def test_answers_past_the_threshold_are_split_at_the_caution() -> None:
    rows = [
        row("refused", 0.5, correct=False),  # below the threshold: refused, in neither group
        row("floor", None, answerable=False, abstained=True),
        row("borderline-wrong", 0.75, correct=False),
        row("borderline-unanswerable", 0.76, answerable=False),
        row("borderline-right", 0.79),
        row("confident-right", 0.9),
        row("confident-wrong", 0.95, correct=False),
        row("confident-right-2", 0.97),
    ]
    (line,) = calibration.caution_rows(rows, 0.74, (0.80,))
    assert line == "| 0.80 | 3 / 6 | 2 / 3 = 0.67 | 1 / 3 = 0.33 |"
    (nothing,) = calibration.caution_rows(rows, 0.74, (0.74,))
    assert nothing == "| 0.74 | 0 / 6 | - | 3 / 6 = 0.50 |"
