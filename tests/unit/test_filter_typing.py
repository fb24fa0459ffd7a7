"""Filter values are typed by the field's stored type: `--where page=2` matches page 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry
from rag_app.config import PipelineConfig
from rag_app.errors import InputError
from rag_app.filtering import validate
from rag_app.ingest.manifest import Manifest
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Chunk, Document, Filter

F = Filter
MakeConfig = Callable[..., PipelineConfig]
DIM = 4
FP: dict[str, object] = {"embedder": "t", "dimension": DIM, "normalized": True, "chunker": {}}


def values(filters: list[Filter], types: dict[str, Any] | None = None) -> list[object]:
    return [f.value for f in validate(filters, types)]


def test_numeric_strings_become_numbers_for_numeric_fields() -> None:
    assert values([F("page", "eq", "2"), F("page", "gte", " 3 "), F("mtime", "lt", "1.5e9")]) == [2, 3, 1.5e9]
    assert values([F("page", "in", ["1", 4, "2.0"])]) == [[1, 4, 2]]
    assert values([F("chunk_index", "ne", "-1")]) == [-1]
    assert values([F("page", "eq", 2)]) == [2]


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        (F("page", "eq", "two"), "filter page eq: page is stored as a number, got 'two'"),
        (F("page", "in", ["1", "x"]), "filter page in: page is stored as a number, got 'x'"),
        (F("page", "eq", "nan"), "page is stored as a number"),
        (F("page", "eq", True), "page is stored as a number, got True"),
        (F("title", "eq", 5), "filter title eq: title is stored as text, got 5"),
        (F("doc_id", "eq", 3), "filter on doc_id needs a string value, got int"),
        (F("page", "eq", "99999999999999999999999"), "outside the 64-bit range"),
    ],
)
def test_values_that_cannot_have_the_stored_type_are_one_line_errors(flt: Filter, message: str) -> None:
    with pytest.raises(InputError) as info:
        validate([flt])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_recorded_types_type_other_metadata_and_unknown_fields_are_left_alone() -> None:
    types: dict[str, Any] = {"year": "integer", "draft": "boolean", "tag": "string", "odd": "mixed"}
    assert values([F("year", "eq", "2021"), F("draft", "eq", "False"), F("odd", "eq", "1")], types) == [
        2021, False, "1",
    ]
    assert values([F("year", "eq", "2021")]) == ["2021"]  # unknown type: compared as given
    with pytest.raises(InputError, match="draft is stored as true or false"):
        validate([F("draft", "eq", "maybe")], types)
    with pytest.raises(InputError, match="tag is stored as text"):
        validate([F("tag", "eq", 3)], types)
    assert values([F("page", "eq", "2")], {"page": "string"}) == [2]  # rag_app's own fields win


def test_pinecone_translation_gets_numbers() -> None:
    records = pytest.importorskip("rag_app.backends.stores.pinecone.records", reason="pinecone not installed")
    assert records.filter_json(validate([F("page", "gte", "2")])) == {"page": {"$gte": 2}}
    assert records.filter_json(validate([F("page", "in", ["1", "3"])])) == {"page": {"$in": [1, 3]}}


def test_memory_store_matches_string_page_values() -> None:
    store = registry.create("store", "memory", {})
    store.open(DIM, FP)
    rows = [Chunk(f"c{n}", "d", "s.pdf", f"page {n}", {"page": n}) for n in (1, 2, 3)]
    store.upsert(rows, [[1.0, 0.0, 0.0, 0.0]] * 3)
    assert [h.chunk.chunk_id for h in store.search([1, 0, 0, 0], 5, [F("page", "eq", "2")])] == ["c2"]
    assert sorted(h.chunk.chunk_id for h in store.search([1, 0, 0, 0], 5, [F("page", "gte", "2")])) == ["c2", "c3"]
    with pytest.raises(InputError, match="page is stored as a number"):
        store.search([1, 0, 0, 0], 5, [F("page", "eq", "second")])


DOCS = [
    Document("d1", "a.pdf", "Alpha text about rotary embeddings.", {"page": 1, "year": 2020, "draft": True}),
    Document("d1", "a.pdf", "Beta text about rotary embeddings.", {"page": 2, "year": 2020, "draft": True}),
    Document("d2", "b.md", "Gamma text about rotary embeddings.", {"page": 2, "year": 2021, "draft": False}),
]


def pages(pipeline: Pipeline, *filters: Filter) -> list[tuple[str, object]]:
    hits = pipeline.search("rotary embeddings", top_k=10, filters=list(filters))
    return sorted((h.chunk.doc_id, h.chunk.metadata["page"]) for h in hits)


def check_pipeline(pipeline: Pipeline) -> None:
    pipeline.ingest_documents(DOCS)
    assert Manifest.load(pipeline.manifest_path()).fields == {"draft": "boolean", "year": "integer"}
    assert pages(pipeline, F("page", "eq", "2")) == [("d1", 2), ("d2", 2)]
    assert pages(pipeline, F("page", "lt", "2")) == [("d1", 1)]
    assert pages(pipeline, F("year", "eq", "2021")) == [("d2", 2)]  # typed by what the manifest recorded
    assert pages(pipeline, F("draft", "eq", "true"), F("page", "in", ["2"])) == [("d1", 2)]
    with pytest.raises(InputError, match="year is stored as a number"):
        pipeline.search("rotary", filters=[F("year", "eq", "last")])


def test_pipeline_types_filters_on_the_memory_store(make_config: MakeConfig) -> None:
    check_pipeline(build_pipeline(make_config()))


@pytest.mark.slow
def test_pipeline_types_filters_on_milvus_lite(make_config: MakeConfig, tmp_path: Path) -> None:
    pytest.importorskip("pymilvus", reason="pip install 'rag-app[milvus]'")
    store = {"type": "milvus", "params": {"uri": str(tmp_path / "f.db"), "collection": "typed"}}
    pipeline = build_pipeline(make_config(store=store))
    try:
        check_pipeline(pipeline)
        rows = pipeline.store.search(pipeline.embedder.embed_query("rotary"), 10, [F("page", "gte", "2")])
        assert sorted(h.chunk.metadata["page"] for h in rows) == [2, 2]
    finally:
        pipeline.close()
