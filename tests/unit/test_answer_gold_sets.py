"""The answer gold sets pass their mechanical check against the corpus as the loaders read it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "eval" / "datasets" / "handbook-answers" / "check_gold.py"


@pytest.mark.parametrize("questions", ["handbook-answers", "handbook-answers-heldout"])
def test_gold_set_passes_its_check(questions: str) -> None:
    path = REPO / "eval" / "datasets" / questions / "questions.jsonl"
    out = subprocess.run([sys.executable, str(CHECK), "--questions", str(path)], capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.strip().endswith("OK")


def test_check_fails_on_a_fact_its_source_does_not_state(tmp_path: Path) -> None:
    line = (REPO / "eval" / "datasets" / "handbook-answers-heldout" / "questions.jsonl").read_text().splitlines()[0]
    broken = tmp_path / "questions.jsonl"
    broken.write_text(line.replace('[["Kingma"]', '[["Hinton"]'), encoding="utf-8")
    assert '"Hinton"' in broken.read_text()
    out = subprocess.run([sys.executable, str(CHECK), "--questions", str(broken), "--set", "heldout"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1
    assert "h001" in out.stdout
