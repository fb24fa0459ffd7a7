"""With the real packaged models, ingest / search and the Python API print no loading noise.

Before: ``INFO rag_app.weights: loading embedding model ...`` on every command,
``Token indices sequence length is longer than the specified maximum sequence
length`` when the chunker counted a long paragraph, and ``Loading weights
0/103`` progress bars in the Python API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("sentence_transformers")

pytestmark = pytest.mark.slow

NOISE = ("INFO", "Token indices sequence length", "LOAD REPORT", "Loading weights", "it/s]", "Batches", "WARNING")

API_SCRIPT = """
import sys
from rag_app import load_config
from rag_app.pipeline import build_pipeline
from rag_app.types import Message

pipeline = build_pipeline(load_config(sys.argv[1]))
print(pipeline.search("how does attention scale?", top_k=1)[0].chunk.source)
print(pipeline.generator.generate([Message("user", "Say OK.")], max_tokens=1).text is not None)
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRANSFORMERS_", "HF_HUB_DISABLE"))}


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(n in line for n in NOISE)]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraph = " ".join(f"Attention step {i} compares every token with every other token." for i in range(120))
    (docs / "long.txt").write_text(f"Attention.\n\n{paragraph}\n\nEnd.\n", encoding="utf-8")  # > 512 tokens
    data = {
        "name": "noise",
        "chunker": {"type": "recursive", "params": {"chunk_size": 120, "chunk_overlap": 20}},
        "embedder": {"type": "sentence_transformers",
                     "params": {"model": "sentence-transformers/all-MiniLM-L6-v2", "threads": 1}},
        "store": {"type": "memory", "params": {"path": str(tmp_path / "store")}},
        "ingest": {"state_dir": str(tmp_path / "state")},
        "generator": {"type": "hf_local", "params": {"max_new_tokens": 2, "threads": 1}},
    }  # fmt: skip
    path = tmp_path / "noise.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _rag(*args: str) -> subprocess.CompletedProcess[str]:
    rag = Path(sys.executable).with_name("rag")
    return subprocess.run([str(rag), *args], env=_env(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def test_cli_with_real_models_prints_no_noise(config: Path) -> None:
    ingest = _rag("ingest", "-c", str(config), str(config.parent / "docs"))
    assert ingest.returncode == 0, ingest.stderr
    assert "1 new" in ingest.stdout
    assert _noise(ingest.stderr) == []
    search = _rag("search", "-c", str(config), "attention")
    assert search.returncode == 0, search.stderr
    assert search.stderr.strip() == ""

    verbose = _rag("--verbose", "search", "-c", str(config), "attention")
    # queries are embedded by the ONNX export the ingest wrote, or by the model itself
    assert ("INFO rag_app.backends.embedders.query_onnx: loading query encoder" in verbose.stderr
            or "INFO rag_app.weights: loading embedding model" in verbose.stderr), verbose.stderr  # fmt: skip


def test_python_api_with_real_models_prints_no_noise(config: Path) -> None:
    assert _rag("ingest", "-c", str(config), str(config.parent / "docs")).returncode == 0
    api = subprocess.run([sys.executable, "-c", API_SCRIPT, str(config)],
                         env=_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert api.returncode == 0, api.stderr
    assert api.stdout.split()[-1] == "True" and "long.txt" in api.stdout
    assert _noise(api.stderr) == [], api.stderr
