"""A deterministic, dependency-free embedder for tests and smoke runs.

Feature hashing of word unigrams and bigrams into a fixed number of
dimensions (the "hashing trick"), L2-normalised. It needs no model, so the
fast test pipeline runs anywhere; its retrieval quality is lexical only.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

_WORD = re.compile(r"\w+", re.UNICODE)


class WordTokenizer:
    """Counts ``\\w+`` words; the token unit of the hashing embedder."""

    def count(self, text: str) -> int:
        return len(_WORD.findall(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


class HashingEmbedder:
    """Hashes word unigrams and bigrams into ``dimension`` buckets."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        dimension: int = Field(default=256, ge=8, le=8192)

    def __init__(self, params: Params, **_: object) -> None:
        self._dim = params.dimension

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dimension(self) -> int:
        return self._dim

    @property
    def normalized(self) -> bool:
        return True

    def tokenizer(self) -> WordTokenizer:
        return WordTokenizer()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)

    def _embed(self, text: str) -> list[float]:
        words = [w.lower() for w in _WORD.findall(text)]
        features = words + [f"{a} {b}" for a, b in pairwise(words)]
        vec = [0.0] * self._dim
        for feat in features:
            digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dim
            sign = 1.0 if digest[4] & 1 else -1.0
            vec[bucket] += sign
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm else vec
