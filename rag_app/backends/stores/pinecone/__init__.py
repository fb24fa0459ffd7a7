"""The ``pinecone`` store: ``store`` is the backend (``PineconeStore``); ``client`` wraps the SDK's
retries and errors, ``ops`` the paged list/delete calls, ``records`` chunk <-> record conversion.
``PineconeStore`` is imported on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["PineconeStore"]


def __getattr__(name: str) -> Any:
    if name == "PineconeStore":
        from rag_app.backends.stores.pinecone.store import PineconeStore

        return PineconeStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
