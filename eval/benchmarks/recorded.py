"""A recorded answer run opened again, for the benchmarks that re-read its answers without generating.

``open_recorded`` loads an answer report's rows with the suite's pipeline over its cached collection
(the one ``rag eval`` answered from; a no-op when cached); ``prompt_hits`` retrieves a row's prompt
sources again and returns them only when they are the ones recorded, so what is re-read is what the
model saw. Used by ``recheck_answers.py`` and ``answer_verifier.py`` (run as scripts from this
folder, which is then on ``sys.path``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.config import PipelineConfig  # noqa: E402
from rag_app.evaluation.answer_runner import open_answer_pipeline  # noqa: E402
from rag_app.evaluation.answers import AnswerDataset, load_answer_dataset  # noqa: E402
from rag_app.evaluation.suite import load_suite  # noqa: E402
from rag_app.pipeline import Pipeline  # noqa: E402
from rag_app.types import ScoredChunk  # noqa: E402

Row = dict[str, Any]


@dataclass
class RecordedRun:
    dataset: AnswerDataset
    pipeline: Pipeline
    config: PipelineConfig
    rows: list[Row]  # the report's rows of the chosen pipeline label


def open_recorded(report: Path, suite_path: Path, label: str, cache_dir: Path) -> RecordedRun:
    """The report's rows of ``label`` and that pipeline opened; ValueError (one line) for a wrong argument."""
    if not (report / "answers.jsonl").is_file():
        raise ValueError(f"{report} has no answers.jsonl: pass an answer report folder (eval/reports/<run>-answers)")
    suite = load_suite(suite_path)
    dataset = load_answer_dataset(suite)  # type: ignore[arg-type]
    spec = next((p for p in suite.pipelines if p.label == label), None)
    if spec is None:
        raise ValueError(f"{suite_path} has no pipeline {label!r}: one of {[p.label for p in suite.pipelines]}")
    opened = open_answer_pipeline(suite, spec, dataset, cache_dir=cache_dir)  # type: ignore[arg-type]
    rows = [json.loads(line) for line in (report / "answers.jsonl").open(encoding="utf-8")]
    return RecordedRun(dataset, opened.pipeline, opened.config, [r for r in rows if r["pipeline"] == label])


def prompt_hits(run: RecordedRun, row: Row) -> list[ScoredChunk] | None:
    """The row's prompt sources retrieved again; None when retrieval no longer gives the recorded ones."""
    hits = run.pipeline.search(row["question"])[: len(row["prompt_sources"])]
    return hits if [run.dataset.relpath(h.chunk) for h in hits] == row["prompt_sources"] else None
