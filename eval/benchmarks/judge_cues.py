"""Which yes/no cue lets the generator's judge tell answerable questions from unanswerable ones.

For every gold question (eval/datasets/handbook-answers) the default pipeline
(pipelines/local.yaml, its index in a temporary folder) retrieves and builds
the answer prompt exactly as ``rag ask`` does; questions the retrieval floor
already refuses are counted as abstained. Each candidate cue is then appended
as the judge's question and P(Yes) read from llama.cpp's next-token
distribution (the prompt prefix is served from the KV cache, so extra cues cost
a few tokens each). Per cue: the AUC of P(Yes) for answerable vs unanswerable
questions past the floor, and the abstention / false abstention / per-kind
abstention at the threshold with the most abstention and at most 10% of
answerable questions refused.

    .venv/bin/python eval/benchmarks/judge_cues.py [--limit N] [--cues default,premise] [--out scores.jsonl]
        [--questions eval/datasets/handbook-answers-heldout/questions.jsonl ...]

``--out`` writes each question's P(Yes) per cue and its best dense similarity
(``best_relevance``); ``abstention_calibration.py --judge-scores`` reads it to
score a cue on an answer run's recorded answers (correct, cited ...).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from thresholds import choose  # noqa: E402

from rag_app.config import parse_config  # noqa: E402
from rag_app.evaluation.answers import read_questions  # noqa: E402
from rag_app.generation.abstain import answerable_probability, best_relevance, should_abstain  # noqa: E402
from rag_app.generation.prompt import build_messages  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402

CUES = {
    "default": "Do the sources above contain the answer to the question? Answer Yes or No.",
    "stated": "Do the sources above state the specific fact the question asks for? Answer Yes or No.",
    "every-detail": (
        "Is every detail the question asks about stated in the sources above, so the question can be "
        "answered from them alone? Answer Yes or No."
    ),
    "premise": (
        "Do the sources above support the question's assumptions and state its answer? Answer Yes or No."
    ),
    "alone": (
        "Can the question be answered exactly and completely from the sources above, without outside "
        "knowledge? Answer Yes or No."
    ),
    "assumptions": (
        "Is everything the question takes for granted true according to the sources above? Answer Yes or No."
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--cues", default=",".join(CUES), help=f"cue names to try (default: {','.join(CUES)})")
    parser.add_argument("--out", type=Path, default=None, help="write each question's P(Yes) per cue (JSONL)")
    parser.add_argument("--questions", type=Path, action="append", default=None,
                        help="gold question files (default: eval/datasets/handbook-answers/questions.jsonl)")
    args = parser.parse_args()
    cues = {name: CUES[name] for name in args.cues.split(",")}
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    corpus = REPO / "data" / "corpus"
    files = args.questions or [REPO / "eval" / "datasets" / "handbook-answers" / "questions.jsonl"]
    by_file = [(path.parent.name, read_questions(path, corpus)) for path in files]
    questions = [q for _, qs in by_file for q in qs]
    set_of = {q.id: name for name, qs in by_file for q in qs}
    questions = questions[: args.limit] if args.limit else questions
    with tempfile.TemporaryDirectory() as tmp:
        data = yaml.safe_load((REPO / "pipelines" / "local.yaml").read_text(encoding="utf-8"))
        data["store"]["params"]["uri"] = str(Path(tmp) / "judge.db")
        data["ingest"]["state_dir"] = tmp
        config = parse_config(data, base_dir=REPO / "pipelines", origin="pipelines/local.yaml")
        pipeline = build_pipeline(config)
        pipeline.ingest([corpus])
        generator, answer = pipeline.generator, config.answer
        assert generator is not None
        rows: list[tuple[bool, str, dict[str, float] | None]] = []
        ids: list[str] = []
        dense: list[float] = []
        started = time.perf_counter()
        for gold in questions:
            ids.append(gold.id)
            hits = pipeline.search(gold.question)
            dense.append(best_relevance(hits, dense=True) if hits else 0.0)
            if should_abstain(hits, answer.min_score, dense=True):
                rows.append((gold.answerable, gold.kind, None))
                continue
            messages, _ = build_messages(
                gold.question, hits, template=pipeline.template, count_tokens=generator.count_tokens,
                context_budget_tokens=answer.context_budget_tokens, excerpt_tokens=answer.excerpt_tokens,
            )  # fmt: skip
            scores = {name: answerable_probability(generator, messages, cue) for name, cue in cues.items()}
            rows.append((gold.answerable, gold.kind, {k: (v if v is not None else 1.0) for k, v in scores.items()}))
        seconds = time.perf_counter() - started
        pipeline.close()
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as fh:
            for qid, (answerable, kind, scores), best in zip(ids, rows, dense, strict=True):
                record = {"id": qid, "set": set_of[qid], "answerable": answerable, "kind": kind, "p_yes": scores,
                          "dense": best}
                fh.write(json.dumps(record) + "\n")
        print(f"per-question scores: {args.out}")
    kinds = Counter(kind for answerable, kind, _ in rows if not answerable)
    floor = sum(1 for _, _, s in rows if s is None)
    print(f"questions: {len(rows)} ({sum(a for a, _, _ in rows)} answerable), {floor} refused by the floor, "
          f"{seconds:.0f} s for retrieval + all cues")
    print()
    print("| cue | AUC | threshold | abstention | false abstention | " + " | ".join(sorted(kinds)) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(kinds))
    for name in cues:
        judged = [(a, s[name]) for a, _, s in rows if s is not None]
        auc = roc_auc_score([a for a, _ in judged], [p for _, p in judged])
        best = choose([(a, None if s is None else s[name]) for a, _, s in rows])
        threshold = best.threshold
        per_kind = [
            sum(1 for a, k, s in rows if not a and k == kind and (s is None or s[name] < threshold)) / kinds[kind]
            for kind in sorted(kinds)
        ]
        print(f"| {name} | {auc:.3f} | {threshold:.3f} | {best.abstention:.3f} | {best.false_abstention:.3f} | "
              + " | ".join(f"{v:.2f}" for v in per_kind) + " |")
    print()
    for name, cue in cues.items():
        print(f"{name}: {cue}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
