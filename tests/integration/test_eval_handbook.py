"""The handbook suite for real: packaged MiniLM + Milvus Lite over data/corpus, with a gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag_app.cli.eval import app
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SUITE = REPO / "eval" / "suites" / "handbook.yaml"
GOLD = REPO / "eval" / "datasets" / "handbook" / "qrels" / "test.tsv"
runner = CliRunner()


def run(tmp: Path, *extra: str) -> Any:
    args = [
        str(SUITE),
        "--reports-dir",
        str(tmp / "reports"),
        "--cache-dir",
        str(tmp / "cache"),
        "--json",
        *extra,
    ]
    return runner.invoke(app, args)


@pytest.mark.skipif(not GOLD.exists(), reason=f"handbook gold set not found at {GOLD}")
def test_handbook_suite_with_gate_and_cached_rerun(tmp_path: Path) -> None:
    first = run(tmp_path)
    assert first.exit_code == 0, first.output  # the suite's own gates pass on the default pipeline
    out = json.loads(first.stdout)
    data = json.loads(Path(out["report"], "metrics.json").read_text())
    local = data["pipelines"]["local"]
    assert local["ingest"]["files_failed"] == 0 and local["ingest"]["embeddings_computed"] > 0
    assert local["fingerprint"]["embedder"] == "sentence-transformers/all-MiniLM-L6-v2+onnx-int8"  # the default backend
    assert local["cache"]["dir"].startswith(str(tmp_path / "cache"))  # never the user's data/index
    assert data["gates"] and all(g["passed"] for g in data["gates"])
    assert local["metrics"]["ndcg@10"] >= 0.6
    for name in ("report.md", "report.html", "local.run.trec", "plots/recall_curve.png"):
        assert Path(out["report"], name).is_file(), name

    # Second run: same collection, nothing embedded, same numbers; an impossible gate exits 1.
    second = run(tmp_path, "--fail-under", "ndcg@10=0.999", "--no-plots")
    assert second.exit_code == 1
    assert "gate failed: FAIL local: ndcg@10 = " in second.stderr
    again = json.loads(Path(json.loads(second.stdout)["report"], "metrics.json").read_text())
    assert again["pipelines"]["local"]["ingest"]["embeddings_computed"] == 0
    assert again["pipelines"]["local"]["cache"]["reused"]
    assert again["pipelines"]["local"]["metrics"]["ndcg@10"] == pytest.approx(local["metrics"]["ndcg@10"])
