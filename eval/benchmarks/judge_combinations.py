"""Do several judge cues, or a cue plus the retrieval score, tell answerable questions apart better than one cue?

Reads a ``judge_cues.py --out`` file (each question's P(Yes) per cue and its best
dense similarity, for one or more gold sets) and scores, per set:

* every single cue and every mean-log-odds combination of two or three cues;
* the default cue's log-odds plus ``w`` times the best dense similarity.

The threshold is chosen on the calibration set (``handbook-answers``: the most
abstention with at most 10% of answerable questions refused) and then applied
unchanged to the other set(s), the held-out questions, as the pipeline would.

    .venv/bin/python eval/benchmarks/judge_cues.py --out scores.jsonl \\
        --questions eval/datasets/handbook-answers/questions.jsonl \\
        --questions eval/datasets/handbook-answers-heldout/questions.jsonl
    .venv/bin/python eval/benchmarks/judge_combinations.py scores.jsonl [--top 12] [--cue premise]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sklearn.metrics import roc_auc_score
from thresholds import MAX_FALSE, choose, rates

CALIBRATION = "handbook-answers"
Row = dict[str, Any]
Score = Callable[[Row], float | None]


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def mean_of(cues: tuple[str, ...]) -> Score:
    def score(r: Row) -> float | None:
        return None if r["p_yes"] is None else sum(log_odds(r["p_yes"][c]) for c in cues) / len(cues)

    return score


def plus_dense(base: Score, weight: float) -> Score:
    def score(r: Row) -> float | None:
        b = base(r)
        return None if b is None else b + weight * float(r["dense"])

    return score


def judged(rows: list[Row], score: Score) -> list[tuple[bool, float | None]]:
    return [(bool(r["answerable"]), score(r)) for r in rows]


def auc(rows: list[Row], score: Score) -> float:
    judged = [(r["answerable"], s) for r in rows if (s := score(r)) is not None]
    if len({a for a, _ in judged}) < 2:
        return float("nan")
    return float(roc_auc_score([a for a, _ in judged], [s for _, s in judged]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, help="a judge_cues.py --out file")
    parser.add_argument("--top", type=int, default=12, help="combinations to print, best calibration AUC first")
    parser.add_argument("--cue", default="premise", help="the cue the retrieval score is added to")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.scores.open(encoding="utf-8")]
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    sets = sorted({r["set"] for r in rows} - {CALIBRATION})
    calibration = [r for r in rows if r["set"] == CALIBRATION]
    held = {name: [r for r in rows if r["set"] == name] for name in sets}
    for name, part in [(CALIBRATION, calibration), *held.items()]:
        print(f"{name}: {len(part)} questions ({sum(r['answerable'] for r in part)} answerable)")
    cues = sorted(next(r["p_yes"] for r in rows if r["p_yes"]))
    candidates: list[tuple[str, Score]] = [
        ("+".join(combo), mean_of(combo)) for k in (1, 2, 3) for combo in itertools.combinations(cues, k)
    ]
    candidates += [(f"{args.cue} + {w} x dense", plus_dense(mean_of((args.cue,)), w)) for w in (1, 2, 5)]
    scored: list[tuple[str, list[float]]] = []
    for label, score in candidates:
        threshold, abstention, false = choose(judged(calibration, score))
        row = [auc(calibration, score), abstention, false]
        for part in held.values():
            row += [auc(part, score), *rates(judged(part, score), threshold)]
        scored.append((label, row))
    head = "| signal | AUC | abstention | false abstention |" + "".join(
        f" AUC {n} | abstention {n} | false {n} |" for n in sets
    )
    print(f"\nthreshold chosen on {CALIBRATION} (most abstention, at most {MAX_FALSE:.0%} refused), then applied"
          " unchanged\n")  # fmt: skip
    print(head)
    print("|---|" + "---:|" * (3 + 3 * len(sets)))
    singles = {label for label, _ in scored if "+" not in label and " x " not in label}
    shown = sorted(scored, key=lambda item: -item[1][0])[: args.top]
    shown += [item for item in scored if (item[0] in singles or " x " in item[0]) and item not in shown]
    for label, row in shown:
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
