"""The Retriever contract: every registered first-stage retriever must pass all of it.

Each retriever is built by ``build_pipeline`` from a config, as in production, and
documents go in through ``Pipeline.ingest``: ``dense`` and ``bm25`` over the memory
store with the hashing embedder, ``milvus_bm25`` over a Milvus Lite file with
``full_text`` (slow: Milvus Lite). One ingested pipeline is shared per module.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry
from rag_app.config import parse_config
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.protocols import Retriever
from rag_app.types import Filter, ScoredChunk
from tests.conftest import fast_config_dict
from tests.support.contract import backend_param

# file -> text; every file mentions "retrieval", so a query with it matches all of them lexically
DOCS = {
    "attention.md": "# Attention\n\nSelf-attention cost in retrieval grows quadratically with sequence length.\n",
    "lora.md": "# LoRA\n\nLoRA adapts retrieval encoders with a low-rank update of two small matrices.\n",
    "bm25.txt": "BM25 retrieval ranks documents by term frequency and inverse document frequency.\n",
    "fusion.md": "# Fusion\n\nReciprocal rank fusion merges retrieval lists using only the ranks.\n",
    "rerank.md": "# Reranking\n\nA cross-encoder reranks the retrieval candidates of a first stage.\n",
    "vectors.txt": "Vector databases answer dense retrieval queries with approximate nearest neighbours.\n",
}
QUERY = "retrieval ranks documents by term frequency"


def _memory(tmp: Path) -> dict[str, Any]:
    return {"type": "memory", "params": {"path": str(tmp / "state" / "store")}}


def _milvus_full_text(tmp: Path) -> dict[str, Any]:
    if importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None:
        pytest.skip("pymilvus / milvus-lite missing: pip install 'rag-app[milvus]'")
    return {"type": "milvus", "params": {"uri": str(tmp / "milvus.db"), "collection": "docs", "full_text": True}}


@dataclass(frozen=True)
class RetrieverBackend:
    """The store a retriever runs over (its ``store`` config block for a tmp dir)."""

    store: Callable[[Path], dict[str, Any]]
    slow: bool = False


BACKENDS: dict[str, RetrieverBackend] = {
    "dense": RetrieverBackend(_memory),
    "bm25": RetrieverBackend(_memory),
    "milvus_bm25": RetrieverBackend(_milvus_full_text, slow=True),
}


def make_pipeline(name: str, tmp: Path) -> Pipeline:
    """A pipeline whose only retriever is ``name``, writing under ``tmp``."""
    backend = BACKENDS.get(name)
    if backend is None:
        pytest.fail(f"retriever {name!r} has no factory in {__name__}")
    data = fast_config_dict(tmp / "state")
    data["store"] = backend.store(tmp)
    data["retrieval"] = {"retrievers": [{"type": name}]}
    return build_pipeline(parse_config(data, base_dir=tmp))


def write_docs(root: Path) -> Path:
    root.mkdir(parents=True)
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@dataclass
class Ingested:
    name: str
    pipeline: Pipeline
    retriever: Retriever
    docs: Path

    def source(self, file: str) -> str:
        return (self.docs / file).resolve().as_posix()


@pytest.fixture(scope="module", params=[backend_param(n, BACKENDS) for n in registry.names("retriever")])
def ingested(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    """One pipeline per retriever with ``DOCS`` ingested, shared by the module."""
    name: str = request.param
    tmp = tmp_path_factory.mktemp(f"retriever-{name}")
    pipeline = make_pipeline(name, tmp)
    docs = write_docs(tmp / "docs")
    report = pipeline.ingest([docs])
    assert report.files_failed == 0 and report.chunks_added >= len(DOCS)
    (retriever,) = pipeline.retrievers
    yield Ingested(name, pipeline, retriever, docs)
    pipeline.close()


def ranked(hits: list[ScoredChunk]) -> None:
    """Scores are finite and in descending order."""
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True), scores


def test_every_registered_retriever_has_a_factory() -> None:
    """Registering a retriever without contract coverage fails here (the module's params list them too)."""
    assert sorted(BACKENDS) == registry.names("retriever")


def test_satisfies_protocol(ingested: Ingested) -> None:
    """The built retriever matches the protocol and is named by its registry name."""
    assert isinstance(ingested.retriever, Retriever)
    assert ingested.retriever.name == ingested.name


@pytest.mark.parametrize("depth", [1, 2, 3, 50])
def test_at_most_depth_results_sorted_by_score(ingested: Ingested, depth: int) -> None:
    """``retrieve`` returns at most ``depth`` hits, best first, each with its own stage score."""
    hits = ingested.retriever.retrieve(QUERY, depth=depth)
    assert 0 < len(hits) <= depth
    assert all(isinstance(h, ScoredChunk) for h in hits)
    ranked(hits)
    assert all(h.scores.get(ingested.name) == pytest.approx(h.score) for h in hits)
    assert len({h.chunk.chunk_id for h in hits}) == len(hits)
    if depth == 50:
        assert len(hits) == len(DOCS)  # every document mentions the query's words


def test_smaller_depth_is_a_prefix(ingested: Ingested) -> None:
    """A smaller depth returns the head of a larger one."""
    full = [h.chunk.chunk_id for h in ingested.retriever.retrieve(QUERY, depth=50)]
    for depth in (1, 3):
        assert [h.chunk.chunk_id for h in ingested.retriever.retrieve(QUERY, depth=depth)] == full[:depth]


def test_the_matching_document_ranks_first(ingested: Ingested) -> None:
    """A query naming one document's distinctive words puts that document first."""
    hits = ingested.retriever.retrieve("low-rank update of two small matrices", depth=5)
    assert hits and hits[0].chunk.source == ingested.source("lora.md")


def test_filters_on_source_and_doc_id_are_respected(ingested: Ingested) -> None:
    """Only hits matching every filter are returned: ``source`` eq/ne, ``doc_id`` in."""
    r = ingested.retriever
    bm25 = ingested.source("bm25.txt")
    only = r.retrieve(QUERY, depth=10, filters=[Filter("source", "eq", bm25)])
    assert only and {h.chunk.source for h in only} == {bm25}
    ranked(only)
    others = r.retrieve(QUERY, depth=10, filters=[Filter("source", "ne", bm25)])
    assert others and bm25 not in {h.chunk.source for h in others}
    assert len(others) == len(DOCS) - 1
    everything = r.retrieve(QUERY, depth=10)
    wanted = {h.chunk.doc_id for h in everything[1:3]}
    chosen = r.retrieve(QUERY, depth=10, filters=[Filter("doc_id", "in", sorted(wanted))])
    assert {h.chunk.doc_id for h in chosen} == wanted
    both = [Filter("doc_id", "in", sorted(wanted)), Filter("source", "eq", bm25)]
    expected = {h.chunk.chunk_id for h in chosen if h.chunk.source == bm25}
    assert {h.chunk.chunk_id for h in r.retrieve(QUERY, depth=10, filters=both)} == expected
    assert r.retrieve(QUERY, depth=10, filters=[Filter("source", "eq", "nowhere.md")]) == []


@pytest.mark.parametrize("name", [backend_param(n, BACKENDS) for n in registry.names("retriever")])
def test_empty_collection_returns_nothing(name: str, tmp_path: Path) -> None:
    """A retriever answers ``[]`` once every document has been deleted again."""
    pipeline = make_pipeline(name, tmp_path)
    try:
        docs = write_docs(tmp_path / "docs")
        pipeline.ingest([docs])
        for file in DOCS:
            assert pipeline.delete_document((docs / file).resolve().as_posix()) >= 1
        (retriever,) = pipeline.retrievers
        assert retriever.retrieve(QUERY, depth=5) == []
        assert retriever.retrieve(QUERY, depth=5, filters=[Filter("source", "eq", "x.md")]) == []
    finally:
        pipeline.close()
