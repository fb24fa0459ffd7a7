"""rag_app pipelines exposed to other frameworks (LangChain, LlamaIndex).

    from rag_app.integrations import as_langchain_retriever, as_llamaindex_retriever

Each adapter imports its framework only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline
    from rag_app.types import Filter


def as_langchain_retriever(pipeline: Pipeline, *, top_k: int | None = None, filters: list[Filter] | None = None) -> Any:
    """A LangChain ``BaseRetriever`` backed by ``pipeline.search``."""
    from rag_app.integrations.langchain import RagAppRetriever

    return RagAppRetriever(pipeline=pipeline, top_k=top_k, filters=filters or [])


def as_llamaindex_retriever(
    pipeline: Pipeline, *, top_k: int | None = None, filters: list[Filter] | None = None
) -> Any:
    """A LlamaIndex ``BaseRetriever`` backed by ``pipeline.search``."""
    from rag_app.integrations.llamaindex import RagAppLlamaRetriever

    return RagAppLlamaRetriever(pipeline, top_k=top_k, filters=filters or [])


__all__ = ["as_langchain_retriever", "as_llamaindex_retriever"]
