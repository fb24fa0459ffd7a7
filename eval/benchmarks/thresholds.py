"""The abstention threshold rule the judge benchmarks share: the most abstention with at most 10% refused.

Each question is ``(answerable, score)``, ``score`` None when the retrieval floor already refused
it (it counts as refused at every threshold). A question is refused when its score is below the
threshold. Imported by ``judge_cues.py`` and ``judge_combinations.py`` (run as scripts from this
folder, which is then on ``sys.path``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

MAX_FALSE = 0.10
"""The share of answerable questions a chosen threshold may refuse."""

Judged = Sequence[tuple[bool, float | None]]


class Choice(NamedTuple):
    threshold: float
    abstention: float  # share of unanswerable questions refused
    false_abstention: float  # share of answerable questions refused


def rates(judged: Judged, threshold: float) -> tuple[float, float]:
    """(abstention on unanswerable, false abstention on answerable) at ``threshold``."""
    refused = [(answerable, score is None or score < threshold) for answerable, score in judged]
    answerable = [r for a, r in refused if a]
    unanswerable = [r for a, r in refused if not a]
    return sum(unanswerable) / max(1, len(unanswerable)), sum(answerable) / max(1, len(answerable))


def choose(judged: Judged, max_false: float = MAX_FALSE) -> Choice:
    """The threshold with the most abstention that refuses at most ``max_false`` of answerable questions.

    Candidates are the scores themselves (refusing everything below one) and minus infinity (only
    the floor refuses); ties go to the lowest threshold.
    """
    best = Choice(-math.inf, *rates(judged, -math.inf))
    for threshold in sorted({s for _, s in judged if s is not None}):
        abstention, false = rates(judged, threshold)
        if false <= max_false and abstention > best.abstention:
            best = Choice(threshold, abstention, false)
    return best
