"""Yes/No judgements read from a generator's next-token log-probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence

YES = ("Yes", "yes")
NO = ("No", "no")
CHOICES = (*YES, *NO)


def yes_probability(yes_logprobs: Sequence[float], no_logprobs: Sequence[float]) -> float:
    """``P(yes) / (P(yes) + P(no))`` from the log-probabilities of the spellings of each answer."""
    yes, no = _logsumexp(yes_logprobs), _logsumexp(no_logprobs)
    if yes == no == -math.inf:
        return 0.5
    return 1.0 / (1.0 + math.exp(min(no - yes, 700.0)))


def yes_share(row: Sequence[float]) -> float:
    """``yes_probability`` of one ``choice_logprobs`` row scored with ``CHOICES``."""
    return yes_probability(row[: len(YES)], row[len(YES) :])


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))
