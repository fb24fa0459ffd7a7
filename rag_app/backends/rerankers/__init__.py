"""Rerankers: a second, stronger scoring pass over first-stage hits.

The stage protocol (see ``rag_app.protocols``)::

    class Reranker(Protocol):
        name: str
        def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...
"""
