"""Maximal marginal relevance (Carbonell & Goldstein, 1998) over the final candidates.

Greedy selection: each step picks the candidate maximising
``lambda * relevance(c) - (1 - lambda) * max(sim(c, s) for s already selected)``.
Relevance is the incoming score (the fused or reranked one) min-max
normalised over the pool; similarity is the cosine of the pipeline
embedder's document vectors of the chunk texts, embedded once per distinct
text (content-hash LRU cache shared across queries).

The loop is written here rather than taken from LangChain
(``langchain_core.vectorstores.utils.maximal_marginal_relevance``) or
LlamaIndex (``get_top_k_mmr_embeddings``): both take relevance as the cosine
to a query embedding, which would replace the fused/reranked ranking with the
dense one (``lambda = 1`` would not keep the incoming order), and LangChain's
always picks the most query-similar candidate first whatever ``lambda`` is.

The output is in selection order. Its ``score`` is rank-derived,
``(k - i) / k`` for the i-th pick, so that sorting by score keeps the MMR
order; ``scores`` keeps the earlier stages plus ``scores["mmr"]`` (the MMR
value when the hit was picked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.protocols import Embedder
from rag_app.retrieval.cache import LRUCache, embed_cached
from rag_app.retrieval.fusion import min_max
from rag_app.types import ScoredChunk

STAGE = "mmr"


class MaximalMarginalRelevance:
    """Reorders the best candidates for diversity with the pipeline's embedder."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lambda_mult: float = Field(
            default=0.7, ge=0, le=1, description="1 = pure relevance (the incoming order), 0 = pure diversity"
        )
        candidates: int = Field(default=20, gt=0, le=1000, description="pool of best candidates MMR picks from")
        cache_size: int = Field(default=20_000, ge=0, description="chunk embeddings kept (LRU); 0 disables the cache")

    def __init__(self, params: Params, *, embedder: Embedder, **_: object) -> None:
        self.config = params
        self._embedder = embedder
        self._cache = LRUCache(params.cache_size)
        self.documents_embedded = 0

    def pool_size(self, top_k: int) -> int:
        """How many of the best incoming candidates MMR chooses ``top_k`` from."""
        return max(top_k, self.config.candidates)

    def cache_info(self) -> dict[str, int]:
        return {**self._cache.info(), "documents_embedded": self.documents_embedded}

    def select(self, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        """``top_k`` hits picked by MMR from the first :meth:`pool_size` of ``hits`` (best first)."""
        import numpy as np

        pool = list(hits[: self.pool_size(top_k)])
        k = min(top_k, len(pool))
        if k <= 0:
            return []
        vectors = self._vectors([h.chunk.text for h in pool])
        similarity = vectors @ vectors.T
        relevance = np.asarray(min_max([h.score for h in pool]), dtype=np.float64)
        lam = self.config.lambda_mult
        redundancy = np.zeros(len(pool))  # max similarity to anything selected so far (none yet)
        available = np.ones(len(pool), dtype=bool)
        picked: list[ScoredChunk] = []
        for i in range(k):
            value = np.where(available, lam * relevance - (1.0 - lam) * redundancy, -np.inf)
            best = int(np.argmax(value))  # first maximum: ties keep the incoming order
            available[best] = False
            redundancy = np.maximum(redundancy, similarity[best]) if i else similarity[best].copy()
            hit = pool[best]
            picked.append(replace(hit, score=(k - i) / k, scores={**hit.scores, STAGE: float(value[best])}))
        return picked

    def _vectors(self, texts: list[str]) -> Any:
        """Unit-length document vectors of ``texts`` (rows), from the cache or the embedder."""
        import numpy as np

        def embed(missing: list[str]) -> Any:
            vectors = np.asarray(self._embedder.embed_documents(missing), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            return vectors / np.where(norms > 0, norms, 1.0)

        matrix, embedded = embed_cached(texts, embed, self._cache)
        self.documents_embedded += embedded
        return matrix
