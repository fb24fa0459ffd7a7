"""A LangChain retriever over a rag_app Pipeline (hybrid, filters and all)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag_app.types import Filter, ScoredChunk


def to_langchain_document(hit: ScoredChunk) -> Document:
    """Chunk text as ``page_content``; ids, source, score and chunk metadata as ``metadata``."""
    chunk = hit.chunk
    metadata: dict[str, Any] = {
        **chunk.metadata,
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "score": hit.score,
    }
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)


class RagAppRetriever(BaseRetriever):
    """Use in any LCEL chain: ``{"context": retriever, "question": RunnablePassthrough()} | prompt | llm``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Any
    top_k: int | None = None
    filters: list[Filter] = Field(default_factory=list)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.pipeline.search(query, top_k=self.top_k, filters=self.filters)
        return [to_langchain_document(h) for h in hits]
