"""A LlamaIndex retriever over a rag_app Pipeline (usable in a RetrieverQueryEngine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag_app.types import Filter, ScoredChunk

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline


def to_llamaindex_node(hit: ScoredChunk) -> NodeWithScore:
    """A ``TextNode`` (id = chunk id, ``ref_doc_id`` = doc id) with the retrieval score."""
    chunk = hit.chunk
    metadata: dict[str, Any] = {**chunk.metadata, "doc_id": chunk.doc_id, "source": chunk.source}
    node = TextNode(id_=chunk.chunk_id, text=chunk.text, metadata=metadata)
    node.excluded_llm_metadata_keys = [k for k in metadata if k not in ("source", "relpath", "page", "section")]
    return NodeWithScore(node=node, score=hit.score)


class RagAppLlamaRetriever(BaseRetriever):
    """``RetrieverQueryEngine.from_args(as_llamaindex_retriever(pipeline), llm=...)``."""

    def __init__(self, pipeline: Pipeline, *, top_k: int | None = None, filters: list[Filter] | None = None) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._top_k = top_k
        self._filters = list(filters or [])

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._pipeline.search(query_bundle.query_str, top_k=self._top_k, filters=self._filters)
        return [to_llamaindex_node(h) for h in hits]
