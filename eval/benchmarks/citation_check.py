"""Precision and recall of the citation check on real answers, per overlap threshold.

Reads an answer report's ``answers.jsonl`` (each answer's text as generated is kept in
``extra.raw_text``), rebuilds each question's prompt sources with the same pipeline, and
labels every (sentence, cited source) pair of the raw answers with the answer suite's
gold rule: when the sentence states one of the question's key facts, the cited chunk must
contain it; otherwise the chunk must come from an expected source file. The check's
verdict (``rag_app.generation.support``) is then compared with that label.

    .venv/bin/python eval/benchmarks/citation_check.py eval/reports/<run>-answers [--config pipelines/local.yaml]

"Supported" is the positive class: precision = kept citations that the gold rule calls
correct / kept citations; recall = correct citations kept / correct citations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.config import load_config  # noqa: E402
from rag_app.evaluation.answer_scoring import cited_numbers, fact_matches, normalise, split_sentences  # noqa: E402
from rag_app.generation.citations import MARKER, parse_citations  # noqa: E402
from rag_app.generation.support import support  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--config", default=str(REPO / "pipelines" / "local.yaml"))
    parser.add_argument("--pipeline", default=None, help="label in the report (default: the first)")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    config = load_config(args.config)
    config = config.model_copy(update={"generator": None})
    pipeline = build_pipeline(config)
    gold = {json.loads(line)["id"]: json.loads(line) for line in
            (REPO / "eval" / "datasets" / "handbook-answers" / "questions.jsonl").open(encoding="utf-8")}
    rows = [json.loads(line) for line in (args.report / "answers.jsonl").open(encoding="utf-8")]
    label = args.pipeline or rows[0]["pipeline"]
    pairs: list[tuple[bool, float, bool]] = []  # (gold correct, overlap, numbers all present)
    for row in rows:
        raw = row.get("extra", {}).get("raw_text") or ""
        if row["pipeline"] != label or not raw or not row["answerable"]:
            continue
        question = gold[row["id"]]
        hits = pipeline.search(question["question"])[: len(row["prompt_sources"])]
        text, _, _ = parse_citations(raw, hits)
        for sentence in split_sentences(text):
            bare = " ".join(MARKER.sub(" ", sentence).split())
            stated = [f for f, hit in zip(question["facts"], fact_matches(normalise(sentence), question["facts"]),
                                          strict=True) if hit]
            for n in cited_numbers(sentence):
                chunk = hits[n - 1].chunk
                if stated:
                    correct = any(a is not None for a in fact_matches(normalise(chunk.text), stated))
                else:
                    correct = chunk.metadata.get("relpath") in question["sources"]
                verdict = support(bare, chunk.text)
                pairs.append((correct, verdict.overlap, not verdict.missing_numbers))
    positives = sum(c for c, _, _ in pairs)
    print(f"{label}: {len(pairs)} (sentence, cited source) pairs in {len(rows)} answers; gold-correct {positives}")
    print("min_overlap  kept  precision  recall   (no check: precision "
          f"{positives / len(pairs):.3f})" if pairs else "no pairs")
    for t in THRESHOLDS:
        kept = [c for c, overlap, numbers in pairs if numbers and overlap >= t]
        precision = sum(kept) / len(kept) if kept else float("nan")
        recall = sum(kept) / positives if positives else float("nan")
        print(f"{t:11.2f}  {len(kept):4d}  {precision:9.3f}  {recall:6.3f}")
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
