"""Dense retrieval: embed the query, search the vector store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pydantic import BaseModel, ConfigDict

from rag_app.protocols import Embedder, VectorStore
from rag_app.types import Filter, ScoredChunk


class DenseRetriever:
    """Nearest neighbours of the query embedding; filters run inside the store."""

    name = "dense"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params, *, embedder: Embedder, store: VectorStore, **_: object) -> None:
        self._embedder = embedder
        self._store = store

    def retrieve(self, query: str, *, depth: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]:
        vector = self._embedder.embed_query(query)
        hits = self._store.search(vector, depth, filters)
        return [replace(h, scores={**h.scores, self.name: h.score}) for h in hits]
