"""BM25 full-text search inside Milvus (``store.params.full_text``).

Milvus analyses each chunk's text and fills a sparse field with a BM25
function at every upsert, so this index follows the dense one through
upserts, deletes and prunes with no listener of its own. Filters run inside
Milvus, exactly as on the dense path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pydantic import BaseModel, ConfigDict

from rag_app.errors import ConfigError
from rag_app.protocols import TextSearchStore
from rag_app.types import Filter, ScoredChunk


class MilvusBM25Retriever:
    """Chunks ranked by Milvus' BM25 score for the query text (higher is better)."""

    name = "milvus_bm25"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, *, store: object, **_: object) -> None:
        if not isinstance(store, TextSearchStore):
            raise ConfigError(
                f"retriever 'milvus_bm25' needs store type 'milvus' with full_text: true, not "
                f"{type(store).__name__}; use the 'bm25' retriever with other stores"
            )
        if not store.full_text:
            raise ConfigError(
                "retriever 'milvus_bm25' needs full-text search in the collection: "
                "set store.params.full_text: true and re-ingest with --rebuild"
            )
        self._store = store

    def retrieve(self, query: str, *, depth: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        hits = self._store.search_text(query, depth, filters)
        return [replace(h, scores={**h.scores, self.name: h.score}) for h in hits]
