"""Start-up cost of CLI commands: `rag stats` imports no model code, `rag search` never loads the generator.

Before: every command imported sentence-transformers (torch) and took ~9 s,
even ``rag stats``. See eval/benchmarks/cli_startup.py for the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytest.importorskip("sentence_transformers")

# Runs one CLI command in-process, then prints which heavy modules it imported.
PROBE = """
import json, sys
from rag_app.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    heavy = ("torch", "sentence_transformers", "transformers", "llama_cpp", "langchain_text_splitters", "sklearn")
    print("MODULES " + json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _probe(*args: str) -> list[str]:
    env = {**os.environ, "RAG_MILVUS_LITE_SERVER": "off"}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    loaded: list[str] = json.loads(line.removeprefix("MODULES "))
    return loaded


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default pipeline's embedder, chunker and generator, on a Milvus Lite file with two documents."""
    tmp = tmp_path_factory.mktemp("startup")
    default = yaml.safe_load((REPO / "pipelines" / "local.yaml").read_text(encoding="utf-8"))
    default["store"]["params"]["uri"] = str(tmp / "lite.db")
    default["ingest"]["state_dir"] = str(tmp / "state")
    path = tmp / "local.yaml"
    path.write_text(yaml.safe_dump(default), encoding="utf-8")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "attention.md").write_text("# Attention\n\nSelf-attention cost grows quadratically.\n", encoding="utf-8")
    (docs / "lora.md").write_text("# LoRA\n\nLoRA learns a low-rank update.\n", encoding="utf-8")
    _probe("ingest", "-c", str(path), str(docs))
    return path


def test_stats_imports_no_model_code(config: Path) -> None:
    assert _probe("stats", "-c", str(config)) == []


def test_search_does_not_load_the_generator(config: Path) -> None:
    loaded = _probe("search", "-c", str(config), "-k", "1", "attention cost")
    assert "llama_cpp" not in loaded and "langchain_text_splitters" not in loaded


def test_search_embeds_the_query_without_torch_once_exported(config: Path) -> None:
    from rag_app.backends.embedders import onnx_export, query_onnx
    from rag_app.weights import resolve_model

    model = "sentence-transformers/all-MiniLM-L6-v2"
    path = resolve_model(model)
    if not query_onnx.export_path(model, path, None).is_file():
        pytest.skip("no fp32 ONNX export of MiniLM (written by the first ingest with onnxruntime installed)")
    assert query_onnx.export_path(model, path, None) == onnx_export.exported_path(model, path, None, None)
    loaded = _probe("search", "-c", str(config), "-k", "1", "attention cost")
    assert "torch" not in loaded and "sentence_transformers" not in loaded


def test_onnx_query_vectors_match_sentence_transformers() -> None:
    import numpy as np

    from rag_app.backends.embedders import query_onnx
    from rag_app.weights import load_sentence_transformers, resolve_model

    model = "sentence-transformers/all-MiniLM-L6-v2"
    path = resolve_model(model)
    encoder = query_onnx.load(model, path, cache_dir=None, threads=1, max_seq_length=None)
    if encoder is None:
        pytest.skip("no fp32 ONNX export of MiniLM")
    st = load_sentence_transformers("SentenceTransformer", model, what="embedding", threads=1, device="cpu")
    for text in ("how does attention scale with sequence length?", "  LoRA  ", "word " * 400):
        light = np.asarray(encoder.embed(text, prompt=None, normalize=True))
        torch_vec = st.encode_query([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        assert float(np.abs(light - torch_vec).max()) < 1e-4


def test_onnx_query_path_matches_the_onnx_embedders_own() -> None:
    import numpy as np

    from rag_app import registry

    params = {"model": "sentence-transformers/all-MiniLM-L6-v2", "backend": "onnx", "quantize": "int8", "threads": 1}
    embedder = registry.create("embedder", "sentence_transformers", params)
    if embedder._light_query_encoder() is None:
        pytest.skip("no int8 ONNX export of MiniLM yet")
    text = "how does attention scale with sequence length?"
    light = np.asarray(embedder.embed_query(text))  # before the model loads: query_onnx
    embedder._load()
    own = np.asarray(embedder.embed_query(text))  # onnx_encoder with the sentence-transformers modules
    assert float(np.abs(light - own).max()) < 1e-4
