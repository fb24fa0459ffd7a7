"""What ``import rag_app`` offers: the documented names, without importing the pipeline up front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rag_app
from rag_app import pipeline


def test_pipeline_and_build_pipeline_are_exported() -> None:
    assert rag_app.build_pipeline is pipeline.build_pipeline
    assert rag_app.Pipeline is pipeline.Pipeline
    assert {"Pipeline", "build_pipeline", "load_config", "PipelineConfig"} <= set(rag_app.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rag_app.nope  # type: ignore[attr-defined]


def test_importing_the_package_does_not_import_the_pipeline(tmp_path: Path) -> None:
    probe = "import sys, rag_app; print('rag_app.pipeline' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"


def test_the_module_docstring_example_runs(make_config, docs_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from rag_app import build_pipeline

    built = build_pipeline(make_config(generator={"type": "extractive"}, answer={"min_score": 0.05}))
    built.ingest([docs_dir])
    assert "quadratic" in built.answer("How does attention scale with sequence length?").text
