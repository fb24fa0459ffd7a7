"""Reranking stage: shared sort/score-keeping logic, the embedding cache, params, load errors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from rag_app.backends.rerankers.bi_encoder import BiEncoderReranker
from rag_app.backends.rerankers.cross_encoder import CrossEncoderReranker
from rag_app.retrieval.cache import LRUCache, content_key
from rag_app.retrieval.rerank import apply_rerank_scores, rerank_head
from rag_app.types import Chunk, ScoredChunk


def hit(cid: str, text: str, score: float, **scores: float) -> ScoredChunk:
    return ScoredChunk(Chunk(cid, "doc", "doc.md", text), score, dict(scores) or {"dense": score})


HITS = [hit("a", "alpha", 0.9), hit("b", "beta", 0.8), hit("c", "gamma", 0.7), hit("d", "delta", 0.6)]


def test_sorted_by_rerank_score_and_cut_to_top_k() -> None:
    out = apply_rerank_scores(HITS, [0.1, 0.7, 0.3, 0.9], top_k=3)
    assert [h.chunk.chunk_id for h in out] == ["d", "b", "c"]
    assert [h.score for h in out] == [0.9, 0.7, 0.3]


def test_earlier_scores_kept_and_rerank_added() -> None:
    fused = [hit("x", "t", 0.03, dense=0.8, bm25=12.0, rrf=0.03)]
    (out,) = apply_rerank_scores(fused, [0.42], top_k=5)
    assert out.scores == {"dense": 0.8, "bm25": 12.0, "rrf": 0.03, "rerank": 0.42}
    assert out.score == 0.42 and out.chunk is fused[0].chunk
    assert fused[0].scores == {"dense": 0.8, "bm25": 12.0, "rrf": 0.03}  # input not mutated


def test_ties_broken_by_chunk_id() -> None:
    hits = [hit("z", "t", 0.9), hit("m", "t", 0.5), hit("a", "t", 0.1)]
    assert [h.chunk.chunk_id for h in apply_rerank_scores(hits, [0.5, 0.5, 0.5], 3)] == ["a", "m", "z"]


@pytest.mark.parametrize("top_k", [0, -1])
def test_empty_input_and_nonpositive_top_k(top_k: int) -> None:
    assert apply_rerank_scores([], [], 5) == []
    assert apply_rerank_scores(HITS, [1, 2, 3, 4], top_k) == []


def test_score_count_must_match() -> None:
    with pytest.raises(ValueError, match="3 rerank scores for 4 hits"):
        apply_rerank_scores(HITS, [1, 2, 3], 2)


def test_blend_mixes_normalised_scores() -> None:
    # previous order a > b > c > d; reranker prefers d slightly, strongly dislikes a
    rerank = [0.0, 0.5, 0.6, 1.0]
    assert apply_rerank_scores(HITS, rerank, 1, blend=0.0)[0].chunk.chunk_id == "d"
    out = apply_rerank_scores(HITS, rerank, 4, blend=0.5)
    by_id = {h.chunk.chunk_id: h for h in out}
    assert by_id["a"].score == pytest.approx(0.5)  # 0.5 * 0 + 0.5 * 1
    assert by_id["d"].score == pytest.approx(0.5)  # 0.5 * 1 + 0.5 * 0
    assert by_id["b"].score == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert by_id["d"].scores["rerank"] == 1.0  # raw rerank score kept
    assert out[0].chunk.chunk_id == "b"
    assert apply_rerank_scores(HITS, rerank, 1, blend=1.0)[0].chunk.chunk_id == "a"


def test_embedding_cache_is_a_bounded_lru() -> None:
    cache = LRUCache(2)
    k1, k2, k3 = (content_key(t) for t in ("one", "two", "three"))
    cache.put(k1, 1)
    cache.put(k2, 2)
    assert cache.get(k1) == 1  # k1 now most recent
    cache.put(k3, 3)  # evicts k2
    assert cache.get(k2) is None and cache.get(k1) == 1 and cache.get(k3) == 3
    assert cache.info() == {"size": 2, "max_entries": 2, "hits": 3, "misses": 1}
    disabled = LRUCache(0)
    disabled.put(k1, 1)
    assert len(disabled) == 0


class _HashingST:
    """A deterministic stand-in for SentenceTransformer: bag of hashed words, L2-normalised."""

    def __init__(self) -> None:
        self.document_calls: list[list[str]] = []

    @staticmethod
    def _vec(text: str) -> np.ndarray:
        v = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            v[int(hashlib.md5(word.strip("?.,").encode()).hexdigest(), 16) % 64] += 1.0
        return v / (np.linalg.norm(v) or 1.0)

    def encode_query(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_document(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        self.document_calls.append(list(texts))
        return np.stack([self._vec(t) for t in texts])


def test_bi_encoder_rescores_and_embeds_each_text_once() -> None:
    reranker = BiEncoderReranker(BiEncoderReranker.Params(cache_size=10))
    fake = _HashingST()
    reranker._embedder._model = fake  # the real model is exercised in tests/integration/test_rerankers.py
    hits = [hit("1", "cats purr", 0.9), hit("2", "dogs bark loudly", 0.8), hit("3", "cats purr", 0.7)]
    out = reranker.rerank("why do dogs bark", hits, 2)
    assert out[0].chunk.chunk_id == "2" and out[0].scores["rerank"] == pytest.approx(out[0].score)
    assert fake.document_calls == [["cats purr", "dogs bark loudly"]]  # duplicate text embedded once
    reranker.rerank("cats", hits, 3)
    assert fake.document_calls == [["cats purr", "dogs bark loudly"]]  # second query: all cached
    assert reranker.cache_info()["documents_encoded"] == 2
    assert reranker.rerank("anything", [], 3) == []


def test_params_forbid_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        BiEncoderReranker.Params(modle="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        BiEncoderReranker.Params(blend=1.5)
    with pytest.raises(ValidationError):
        CrossEncoderReranker.Params(activation="softmax")  # type: ignore[arg-type]
    assert CrossEncoderReranker.Params().activation == "sigmoid"


def test_constructors_do_no_io_and_empty_input_loads_nothing() -> None:
    cross = CrossEncoderReranker(CrossEncoderReranker.Params(model="/no/such/model"))
    bi = BiEncoderReranker(BiEncoderReranker.Params(model="/no/such/model"))
    assert cross.rerank("q", [], 5) == [] and bi.rerank("q", [], 5) == []
    assert cross._model is None and bi._embedder._model is None


def test_bi_encoder_disk_cache_survives_a_new_instance(tmp_path: Path) -> None:
    params = BiEncoderReranker.Params(cache_dir=str(tmp_path / "emb"))
    hits = [hit("1", "cats purr", 0.9), hit("2", "dogs bark loudly", 0.8)]
    first, fake = BiEncoderReranker(params), _HashingST()
    first._embedder._model = fake
    expected = first.rerank("why do dogs bark", hits, 2)
    assert fake.document_calls == [["cats purr", "dogs bark loudly"]]

    second, fresh = BiEncoderReranker(params), _HashingST()  # a new process, in effect
    second._embedder._model = fresh
    again = second.rerank("why do dogs bark", [*hits, hit("3", "birds sing", 0.1)], 3)
    assert fresh.document_calls == [["birds sing"]]  # the two known texts came from disk
    assert [h.chunk.chunk_id for h in again[:2]] == [h.chunk.chunk_id for h in expected]
    assert again[0].score == pytest.approx(expected[0].score, abs=1e-6)
    assert len(list((tmp_path / "emb").glob("*.sqlite"))) == 1

    off = BiEncoderReranker(BiEncoderReranker.Params(cache_dir=str(tmp_path / "emb"), disk_cache=False))
    off._embedder._model = none_cached = _HashingST()
    off.rerank("why do dogs bark", hits, 2)
    assert none_cached.document_calls == [["cats purr", "dogs bark loudly"]]


def test_disk_cache_unwritable_folder_degrades_to_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    reranker = BiEncoderReranker(BiEncoderReranker.Params(cache_dir=str(blocker / "sub")))
    reranker._embedder._model = fake = _HashingST()
    out = reranker.rerank("dogs", [hit("1", "dogs bark", 0.5)], 1)
    assert out[0].chunk.chunk_id == "1" and fake.document_calls == [["dogs bark"]]


def test_rerank_head_scores_only_the_depth_and_keeps_the_rest_below() -> None:
    hits = [hit(str(n), f"text {n}", 1.0 - n / 10) for n in range(6)]
    seen: list[list[str]] = []

    def score(head: list[ScoredChunk]) -> list[float]:
        seen.append([h.chunk.chunk_id for h in head])
        return [float(n) for n in range(len(head))]  # reverses the head

    out = rerank_head(hits, 5, score, depth=3)
    assert seen == [["0", "1", "2"]]  # only the head reaches the model
    assert [h.chunk.chunk_id for h in out] == ["2", "1", "0", "3", "4"]
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)  # score order = list order
    assert "rerank" not in out[3].scores and out[0].scores["rerank"] == 2.0
    assert [h.chunk.chunk_id for h in rerank_head(hits, 6, score)] == ["5", "4", "3", "2", "1", "0"]
    assert rerank_head([], 3, score) == [] and rerank_head(hits, 0, score) == []


def test_bi_encoder_depth_limits_what_is_embedded() -> None:
    reranker = BiEncoderReranker(BiEncoderReranker.Params(depth=2, disk_cache=False))
    reranker._embedder._model = fake = _HashingST()
    hits = [hit("1", "cats purr", 0.9), hit("2", "dogs bark loudly", 0.8), hit("3", "dogs bark", 0.7)]
    out = reranker.rerank("why do dogs bark", hits, 3)
    assert fake.document_calls == [["cats purr", "dogs bark loudly"]]
    assert [h.chunk.chunk_id for h in out] == ["2", "1", "3"]
