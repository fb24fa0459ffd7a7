"""The ``milvus`` store: Milvus Lite files, Milvus servers and clusters, behind one class.

``store`` is the backend (``MilvusStore``); ``lite`` and ``lite_server`` run Milvus
Lite (in process, or one shared server per file), ``fast_index`` and
``fast_columns`` are the in-process dense index kept beside a Lite collection,
``rows`` converts chunks to and from Milvus rows, ``expressions`` turns
structured filters into Milvus expressions. ``MilvusStore`` is imported on first
use, so ``rag lite`` does not load pymilvus.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MilvusStore"]


def __getattr__(name: str) -> Any:
    if name == "MilvusStore":
        from rag_app.backends.stores.milvus.store import MilvusStore

        return MilvusStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
