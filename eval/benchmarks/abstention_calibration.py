"""Choose the abstention settings from recorded answers: judge threshold x "no supported claim" rule.

Reads the ``answers.jsonl`` of an answer run in which the judge was scored but never obeyed
(``eval/suites/answers-calibration.yaml``: ``answer.judge.threshold: 0``), so every question
has a generated answer, its checked claims and the judge's P(answerable). Each combination of

- ``answer.judge.threshold`` (abstain when P(answerable) is below it), and
- ``answer.abstain_unsupported`` (abstain when some sentence of the answer could be checked and
  none is supported by a source: ``rag_app.answering.nothing_supported``)

is then applied to those recorded answers, which is exactly what the pipeline would have done
(both decisions only ever turn an answer into an abstention), and scored the way the answer
suite scores: abstention on unanswerable questions, false abstention and correctness on
answerable ones.

With ``--caution`` (and the ``--threshold`` the pipeline refuses below, with the rule on), the
answers that pass are split at each ``answer.judge.caution`` value: how many would be flagged
"low confidence", and how often a flagged and an unflagged answer is wrong (an unanswerable
question answered, or an answerable one answered without its key facts).

    .venv/bin/python eval/benchmarks/abstention_calibration.py eval/reports/<run>-answers-calibration
    .venv/bin/python eval/benchmarks/abstention_calibration.py <report> --threshold 0.74 --caution 0.78,0.8,0.82
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.answering import nothing_supported  # noqa: E402
from rag_app.types import Claim  # noqa: E402

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


@dataclass(frozen=True)
class Row:
    """One recorded answer, reduced to what the abstention decisions read."""

    id: str
    kind: str
    answerable: bool
    abstained: bool  # by the retrieval floor or the model's own refusal
    p_answerable: float | None
    unsupported: bool  # what answer.abstain_unsupported reads
    correct: bool
    cited: bool
    pairs: tuple[int, int]  # (correct, all) (sentence, cited source) pairs

    def abstains(self, threshold: float, unsupported_rule: bool) -> bool:
        if self.abstained:
            return True
        if self.p_answerable is not None and self.p_answerable < threshold:
            return True
        return unsupported_rule and self.unsupported


def load(path: Path) -> list[Row]:
    rows = []
    for line in path.open(encoding="utf-8"):
        data = json.loads(line)
        extra = data.get("extra", {})
        claims = [
            Claim(c["text"], c["citations"], c["supported"], c.get("support", 0.0), c.get("cited", True))
            for c in extra.get("claims") or []
        ]
        rows.append(
            Row(
                id=data["id"],
                kind=data["kind"],
                answerable=bool(data["answerable"]),
                abstained=bool(data["abstained"]),
                p_answerable=extra.get("answerable"),
                unsupported=nothing_supported(claims),
                correct=bool(data["values"].get("correct", 0.0)),
                cited=bool(data["values"].get("cited", 0.0)),
                pairs=(int(data.get("pairs_correct", 0)), int(data.get("pairs_total", 0))),
            )
        )
    return rows


def with_judge_scores(rows: list[Row], path: Path, cue: str) -> list[Row]:
    """``rows`` with P(answerable) taken from a judge_cues.py scores file (by question id)."""
    scores = {}
    for line in path.open(encoding="utf-8"):
        data = json.loads(line)
        scores[data["id"]] = (data["p_yes"] or {}).get(cue)
    missing = [r.id for r in rows if r.id not in scores]
    if missing:
        raise SystemExit(f"{path} has no score for {len(missing)} question(s), e.g. {missing[0]}")
    return [replace(r, p_answerable=scores[r.id]) for r in rows]


def score(rows: list[Row], threshold: float, rule: bool) -> dict[str, float]:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    answered = [r for r in rows if not r.abstains(threshold, rule)]
    pairs = sum(r.pairs[1] for r in answered)
    return {
        "correct": sum(r.correct and not r.abstains(threshold, rule) for r in answerable) / len(answerable),
        "cited": sum(r.cited and not r.abstains(threshold, rule) for r in answerable) / len(answerable),
        "citation_precision": sum(r.pairs[0] for r in answered) / pairs if pairs else 0.0,
        "false_abstention": sum(r.abstains(threshold, rule) for r in answerable) / len(answerable),
        "abstention": sum(r.abstains(threshold, rule) for r in unanswerable) / max(len(unanswerable), 1),
    }


def caution_rows(rows: list[Row], threshold: float, cautions: tuple[float, ...]) -> list[str]:
    """One table row per caution: answers flagged, and the share wrong among flagged and unflagged ones."""

    def wrong(r: Row) -> bool:
        return not r.answerable or not r.correct

    answered = [r for r in rows if not r.abstains(threshold, True) and r.p_answerable is not None]
    lines = []
    for caution in cautions:
        flagged = [r for r in answered if r.p_answerable is not None and r.p_answerable < caution]
        rest = [r for r in answered if r not in flagged]
        lines.append(
            f"| {caution:.2f} | {len(flagged)} / {len(answered)} | {_share(flagged, wrong)} | {_share(rest, wrong)} |"
        )
    return lines


def _share(rows: list[Row], test: Callable[[Row], bool]) -> str:
    hits = sum(map(test, rows))
    return f"{hits} / {len(rows)} = {hits / len(rows):.2f}" if rows else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="an answer report folder (or its answers.jsonl)")
    parser.add_argument("--thresholds", type=lambda text: tuple(float(t) for t in text.split(",")),
                        default=THRESHOLDS, help=f"judge thresholds to try (default: {','.join(map(str, THRESHOLDS))})")
    parser.add_argument("--judge-scores", type=Path, default=None,
                        help="eval/benchmarks/judge_cues.py --out file: use its P(Yes) instead of the recorded judge's")
    parser.add_argument("--cue", default="default", help="which cue of --judge-scores to use")
    parser.add_argument("--threshold", type=float, default=0.74, help="the judge threshold --caution is read at")
    parser.add_argument("--caution", type=lambda text: tuple(float(t) for t in text.split(",")), default=(),
                        help="answer.judge.caution values to split the passing answers at, e.g. 0.78,0.8")
    args = parser.parse_args()
    path = args.report / "answers.jsonl" if args.report.is_dir() else args.report
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    rows = load(path)
    if args.judge_scores is not None:
        rows = with_judge_scores(rows, args.judge_scores, args.cue)
        print(f"judge: cue {args.cue!r} from {args.judge_scores}")
    counts = Counter(r.kind for r in rows if not r.answerable)
    print(f"answers: {len(rows)} ({sum(r.answerable for r in rows)} answerable; unanswerable: {dict(counts)})")
    judged = [r for r in rows if r.p_answerable is not None and not r.abstained]
    if len({r.answerable for r in judged}) == 2:
        auc = roc_auc_score([r.answerable for r in judged], [r.p_answerable for r in judged])
        print(f"judge AUC (answerable vs not, {len(judged)} questions past the floor): {auc:.3f}")
    print()
    print("| judge threshold | no-supported-claim rule | correct | cited | citation precision | false abstention"
          " | abstention |"
          + "".join(f" {k} |" for k in sorted(counts)))  # fmt: skip
    print("|---:|:---:|---:|---:|---:|---:|---:|" + "---:|" * len(counts))
    for rule in (False, True):
        for threshold in args.thresholds:
            s = score(rows, threshold, rule)
            per_kind = [
                sum(r.abstains(threshold, rule) for r in rows if r.kind == k and not r.answerable) / counts[k]
                for k in sorted(counts)
            ]
            print(f"| {threshold:.2f} | {'on' if rule else 'off'} | {s['correct']:.3f} | {s['cited']:.3f}"
                  f" | {s['citation_precision']:.3f} | {s['false_abstention']:.3f}"
                  f" | {s['abstention']:.3f} |" + "".join(f" {v:.2f} |" for v in per_kind))  # fmt: skip
    if args.caution:
        print(f"\nAnswers past judge threshold {args.threshold:.2f} (abstain_unsupported on), split at each caution:")
        print("| caution | flagged low confidence | wrong among flagged | wrong among the rest |")
        print("|---:|---:|---:|---:|")
        print("\n".join(caution_rows(rows, args.threshold, args.caution)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
