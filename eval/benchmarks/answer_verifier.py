"""Would asking the generator about its own answer catch more unanswerable questions than the judge alone?

The judge (``answer.judge``) reads the sources and the question before generating. This reads
recorded answers afterwards: for each answered question of an answer report it rebuilds the
prompt the model saw (the suite's pipeline over its cached collection, as
``recheck_answers.py`` does), appends the checked answer as the assistant's turn and a yes/no
cue as the user's, and reads P(Yes) from llama.cpp's next-token distribution (no text is
generated). Per cue it prints the AUC of P(Yes) for answerable vs unanswerable and for correct vs
wrong answers, then the threshold chosen on the first report by ``thresholds.choose`` (the
judge's and the floor's recorded refusals count against the 10%) and what it does there and,
unchanged, on the second report.

    .venv/bin/python eval/benchmarks/answer_verifier.py eval/reports/<run>-answers \\
        [--heldout eval/reports/<run>-answers-heldout] [--out verifier.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from recorded import open_recorded, prompt_hits
from sklearn.metrics import roc_auc_score
from thresholds import MAX_FALSE, choose

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.answering import checked_answer  # noqa: E402
from rag_app.generation.prompt import build_messages  # noqa: E402
from rag_app.generation.yes_no import CHOICES, yes_share  # noqa: E402
from rag_app.protocols import ChoiceScorer  # noqa: E402
from rag_app.types import Message  # noqa: E402

CUES = {
    "answers": "Does your answer above answer the question with facts stated in the sources? Answer Yes or No.",
    "grounded": (
        "Is every fact in your answer above stated in the sources, and does it give what the question asks "
        "for? Answer Yes or No."
    ),
    "specific": "Does your answer above give the specific information the question asks for? Answer Yes or No.",
}
Row = dict[str, Any]


def score_report(report: Path, suite_path: Path, label: str, cache_dir: Path) -> list[Row]:
    """Each recorded answer with its verifier P(Yes) per cue.

    None for questions refused before generating and for those whose prompt sources retrieval no
    longer gives (``prompt_hits``).
    """
    run = open_recorded(report, suite_path, label, cache_dir)
    pipeline, config = run.pipeline, run.config
    generator = pipeline.generator
    assert isinstance(generator, ChoiceScorer), "the verifier reads next-token log-probabilities (llama_cpp)"
    out: list[Row] = []
    try:
        for row in run.rows:
            raw = row.get("extra", {}).get("raw_text")
            record = {"id": row["id"], "answerable": row["answerable"], "correct": row["values"].get("correct"),
                      "abstained": row["abstained"], "verify": None}  # fmt: skip
            out.append(record)
            hits = None if row["abstained"] or not raw else prompt_hits(run, row)
            if hits is None:
                continue
            messages, used = build_messages(
                row["question"], hits, template=pipeline.template, count_tokens=generator.count_tokens,  # type: ignore[attr-defined]
                context_budget_tokens=config.answer.context_budget_tokens, excerpt_tokens=config.answer.excerpt_tokens,
            )  # fmt: skip
            shown = checked_answer(raw, used, config.answer).text
            conversations = [[*messages, Message("assistant", shown), Message("user", cue)] for cue in CUES.values()]
            scored = generator.choice_logprobs(conversations, CHOICES, batch_size=1)
            record["verify"] = {name: yes_share(r) for name, r in zip(CUES, scored, strict=True)}
    finally:
        pipeline.close()
    return out


def outcome(rows: list[Row], name: str, threshold: float) -> dict[str, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def refused(r: Row) -> bool:
        return bool(r["abstained"]) or (r["verify"] is not None and r["verify"][name] < threshold)

    return {
        "abstention": sum(map(refused, unanswerable)) / max(1, len(unanswerable)),
        "false_abstention": sum(map(refused, answerable)) / max(1, len(answerable)),
        "correct": sum(bool(r["correct"]) and not refused(r) for r in answerable) / max(1, len(answerable)),
    }


def _auc(pairs: list[tuple[bool, float]]) -> float:
    labels = [a for a, _ in pairs]
    return float(roc_auc_score(labels, [s for _, s in pairs])) if len(set(labels)) == 2 else float("nan")


def summarise(main_rows: list[Row], heldout: list[Row] | None) -> None:
    print("| cue | AUC answerable | AUC correct | threshold | abstention | false abstention | correct |"
          + (" held-out abstention | false | correct |" if heldout else ""))  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if heldout else ""))
    base = outcome(main_rows, next(iter(CUES)), -1.0)
    line = f"| (judge only) | | | | {base['abstention']:.3f} | {base['false_abstention']:.3f} | {base['correct']:.3f} |"
    if heldout:
        h = outcome(heldout, next(iter(CUES)), -1.0)
        line += f" {h['abstention']:.3f} | {h['false_abstention']:.3f} | {h['correct']:.3f} |"
    print(line)
    for name in CUES:
        answered = [r for r in main_rows if r["verify"] is not None]
        auc_a = _auc([(bool(r["answerable"]), r["verify"][name]) for r in answered])
        auc_c = _auc([(bool(r["correct"]), r["verify"][name]) for r in answered if r["answerable"]])
        # refused before generating: score None (always refused); answered: the verifier's P(Yes)
        judged = [(bool(r["answerable"]), None if r["verify"] is None else r["verify"][name]) for r in main_rows]
        threshold = choose(judged, MAX_FALSE).threshold
        m = outcome(main_rows, name, threshold)
        line = (f"| {name} | {auc_a:.3f} | {auc_c:.3f} | {threshold:.3f} | {m['abstention']:.3f} | "
                f"{m['false_abstention']:.3f} | {m['correct']:.3f} |")  # fmt: skip
        if heldout:
            h = outcome(heldout, name, threshold)
            line += f" {h['abstention']:.3f} | {h['false_abstention']:.3f} | {h['correct']:.3f} |"
        print(line)
    print()
    for name, cue in CUES.items():
        print(f"{name}: {cue}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--suite", type=Path, default=REPO / "eval" / "suites" / "answers.yaml")
    parser.add_argument("--heldout", type=Path, default=None, help="a second report, scored with the same threshold")
    parser.add_argument("--heldout-suite", type=Path, default=REPO / "eval" / "suites" / "answers-heldout.yaml")
    parser.add_argument("--pipeline", default="local")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "eval" / ".cache")
    parser.add_argument("--out", type=Path, default=None, help="write every question's scores (JSONL)")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    started = time.perf_counter()
    try:
        main_rows = score_report(args.report, args.suite, args.pipeline, args.cache_dir)
        heldout = (
            score_report(args.heldout, args.heldout_suite, args.pipeline, args.cache_dir) if args.heldout else None
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"{len(main_rows)} + {len(heldout or [])} answers scored in {time.perf_counter() - started:.0f} s")
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as fh:
            for part, rows in (("main", main_rows), ("heldout", heldout or [])):
                for r in rows:
                    fh.write(json.dumps({"set": part, **r}) + "\n")
    summarise(main_rows, heldout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
