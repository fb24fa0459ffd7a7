"""Re-run the answer check on recorded answers: what a change to the citation check does, without generating.

Reads an answer report's ``answers.jsonl`` (each generated answer's text is kept in
``extra.raw_text``), rebuilds each question's prompt sources with the suite's pipeline
``--pipeline`` over its cached collection (the generator is never called), passes the recorded
text through today's ``rag_app.answering.checked_answer`` and scores it with the answer suite's
own scorer. Prints
the suite's headline figures for the recorded answers and for the re-checked ones, then each
answer whose figures changed. Questions the judge or the retrieval floor refused have no text
to re-check and keep their recorded values.

    .venv/bin/python eval/benchmarks/recheck_answers.py eval/reports/<run>-answers [--pipeline local]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from recorded import open_recorded, prompt_hits  # noqa: E402

from rag_app.answering import checked_answer  # noqa: E402
from rag_app.evaluation import answer_metrics  # noqa: E402
from rag_app.evaluation.answer_scoring import score_answer  # noqa: E402

HEADLINE = ("correct", "cited", "citation_precision", "abstention", "false_abstention")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--suite", type=Path, default=REPO / "eval" / "suites" / "answers.yaml")
    parser.add_argument("--pipeline", default="local", help="label in the report and the suite")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "eval" / ".cache")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    try:
        run = open_recorded(args.report, args.suite, args.pipeline, args.cache_dir)
    except ValueError as exc:
        parser.error(str(exc))
    gold = {q.id: q for q in run.dataset.questions}
    rows, config = run.rows, run.config
    after, changed, skipped = [], [], 0
    try:
        for row in rows:
            raw = row.get("extra", {}).get("raw_text")
            hits = prompt_hits(run, row) if raw else None
            if hits is None:
                skipped += bool(raw)  # retrieval no longer gives the recorded prompt: leave it as recorded
                after.append(row)
                continue
            answer = checked_answer(raw, hits, config.answer)
            new = score_answer(gold[row["id"]], answer, run.dataset, ttft_s=row["ttft_s"], total_s=row["total_s"])
            record = new.as_dict()
            after.append(record)
            if _headline(record) != _headline(row) or record["answer"] != row["answer"]:
                changed.append((row, record))
    finally:
        run.pipeline.close()
    old_means, _ = answer_metrics.aggregate(rows)
    new_means, _ = answer_metrics.aggregate(after)
    print(f"{len(rows)} recorded answers of {args.pipeline!r}; {len(changed)} changed; "
          f"{skipped} left as recorded (their prompt sources differ today)")
    print(f"{'metric':20s} {'recorded':>9s} {'re-checked':>10s}")
    for key in HEADLINE:
        if key in old_means:
            print(f"{key:20s} {old_means[key]:9.3f} {new_means[key]:10.3f}")
    for row, record in changed:
        print(f"\n{row['id']} {_headline(row)} -> {_headline(record)}")
        print(f"  recorded:   {row['answer'][:240]!r}")
        print(f"  re-checked: {record['answer'][:240]!r}")
    return 0


def _headline(record: dict[str, Any]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in record["values"].items() if k in HEADLINE}


if __name__ == "__main__":
    raise SystemExit(main())
