"""The capability matrix in docs/stores.md is generated from the stores' ``capabilities``.

Run ``RAG_UPDATE_DOCS=1 pytest tests/contract/test_capabilities.py`` to rewrite
the table after changing a store; otherwise the test fails when they drift.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "stores.md"
BEGIN = "<!-- capability-matrix:begin (generated from each store's `capabilities`; see tests/contract) -->"
END = "<!-- capability-matrix:end -->"
STORES = [  # (registry name, module, class, the SDK it needs)
    ("memory", "rag_app.backends.stores.memory", "MemoryStore", "numpy"),
    ("milvus", "rag_app.backends.stores.milvus", "MilvusStore", "pymilvus"),
    ("pinecone", "rag_app.backends.stores.pinecone", "PineconeStore", "pinecone"),
]


def capabilities() -> dict[str, dict[str, str]]:
    caps = {}
    for name, module, cls, sdk in STORES:
        pytest.importorskip(sdk, reason=f"{name}: pip install 'rag-app[{name}]'")
        caps[name] = getattr(importlib.import_module(module), cls).capabilities
    return caps
ROWS = [
    ("filter_ops", "Filter ops"),
    ("range_filters", "gt/gte/lt/lte on"),
    ("sparse_hybrid", "Sparse / hybrid"),
    ("max_batch", "Max batch"),
    ("max_top_k", "Max top_k"),
    ("consistency", "Consistency"),
    ("persistence", "Persistence"),
]


def render() -> str:
    caps = capabilities()
    lines = [
        "| | " + " | ".join(f"`{name}`" for name in caps) + " |",
        "|---" * (len(STORES) + 1) + "|",
    ]
    for key, label in ROWS:
        cells = [caps[name][key].replace("|", "\\|") for name in caps]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_every_store_has_every_row() -> None:
    for name, caps in capabilities().items():
        assert set(caps) == {k for k, _ in ROWS}, f"{name}: {sorted(set(caps) ^ {k for k, _ in ROWS})}"


def test_docs_matrix_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC} lost its capability-matrix markers"
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + render() + "\n"
    if os.environ.get("RAG_UPDATE_DOCS") and current != wanted:
        DOC.write_text(head + BEGIN + wanted + END + tail, encoding="utf-8")
        return
    assert current == wanted, "docs/stores.md capability matrix is stale: RAG_UPDATE_DOCS=1 pytest " + __file__


def test_full_text_claims_match_the_code() -> None:
    """A store whose matrix row claims in-store BM25 has ``search_text`` and a ``full_text`` param."""
    for name, module, cls, sdk in STORES:
        pytest.importorskip(sdk, reason=f"{name}: pip install 'rag-app[{name}]'")
        store = getattr(importlib.import_module(module), cls)
        claims = "milvus_bm25" in store.capabilities["sparse_hybrid"]
        assert claims == hasattr(store, "search_text") == ("full_text" in store.Params.model_fields), name
