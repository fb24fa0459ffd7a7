"""What makes a first ingest fast: read once, embed once, sorted batches, backend params."""

from __future__ import annotations

import pathlib
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.backends.embedders.onnx_encoder import TokenStats, length_sorted_batches
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError, MissingDependencyError
from rag_app.ingest.embed_cache import EmbedCache
from rag_app.pipeline import build_pipeline

MakeConfig = Callable[..., PipelineConfig]


def test_each_file_is_read_once(make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: Counter[str] = Counter()
    original = pathlib.Path.read_bytes

    def counting(self: pathlib.Path) -> bytes:
        reads[self.resolve().as_posix()] += 1
        return original(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", counting)
    report = build_pipeline(make_config()).ingest([docs_dir])
    files = sorted(p.resolve().as_posix() for p in docs_dir.rglob("*") if p.is_file())
    assert report.files_new == len(files) == 3
    assert {f: reads[f] for f in files} == dict.fromkeys(files, 1)  # hashed and loaded from one read


def test_identical_texts_are_embedded_once_across_files_and_runs(make_config: MakeConfig, docs_dir: Path) -> None:
    boilerplate = "Copyright notice: this handbook page is licensed under the same terms as the rest.\n"
    for name in ("a.txt", "b.txt", "c.txt"):
        (docs_dir / name).write_text(boilerplate, encoding="utf-8")
    pipeline = build_pipeline(make_config())
    first = pipeline.ingest([docs_dir])
    assert first.chunks_added == first.embeddings_computed + 2  # three files, one text: embedded once
    moved = docs_dir.parent / "renamed"
    shutil.move(docs_dir, moved)  # a renamed folder: new sources, the same texts
    again = pipeline.ingest([moved])
    assert again.files_new == 6 and again.files_removed == 0 and again.embeddings_computed == 0
    rebuilt = pipeline.ingest([moved], rebuild=True)  # a dropped collection: the cache still knows every text
    assert rebuilt.chunks_added > 0 and rebuilt.embeddings_computed == 0
    hits = pipeline.search("low-rank update matrices", top_k=1)
    assert hits and hits[0].chunk.source.endswith("renamed/lora.md")


def test_cached_vectors_are_the_computed_ones(tmp_path: Path) -> None:
    embedder = registry.create("embedder", "hashing", {"dimension": 32})
    texts = ["alpha beta", "gamma delta"]
    vectors = embedder.embed_documents(texts)
    cache = EmbedCache(tmp_path, {"embedder": embedder.name})
    cache.put_many(texts, vectors)
    cache.close()
    reopened = EmbedCache(tmp_path, {"embedder": embedder.name})
    assert reopened.get_many([*texts, "unseen"]) == dict(zip(texts, vectors, strict=True))
    other = EmbedCache(tmp_path, {"embedder": "another-model"})  # another embedder never sees these vectors
    assert other.path != reopened.path and other.get_many(texts) == {}


def test_unreadable_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path, {"embedder": "x"})
    cache.path.write_bytes(b"not a database at all" * 100)
    assert cache.get_many(["a"]) == {}
    cache.put_many(["a"], [[0.5, 0.5]])
    assert cache.get_many(["a"]) == {"a": [0.5, 0.5]}


def test_progress_reports_chunks_per_second(make_config: MakeConfig, docs_dir: Path) -> None:
    seen: list[str] = []
    build_pipeline(make_config()).ingest([docs_dir], progress=lambda done, total, current: seen.append(current))
    assert seen[0] in {"attention.md", "lora.md", "notes/bm25.txt"}  # nothing embedded yet: no rate
    assert seen[-1].endswith(" chunks/s") and float(seen[-1].split()[0]) > 0


def test_length_sorted_batches_group_similar_lengths() -> None:
    lengths = [5, 200, 7, 190, 6, 210]
    batches = length_sorted_batches(lengths, 2)
    assert batches == [[5, 1], [3, 2], [4, 0]]  # longest first
    assert sorted(i for b in batches for i in b) == list(range(6))

    def padded(groups: list[list[int]]) -> int:
        return sum(len(g) * max(lengths[i] for i in g) for g in groups)

    in_order = [[0, 1], [2, 3], [4, 5]]
    assert (sum(lengths), padded(batches), padded(in_order)) == (618, 812, 1200)
    assert TokenStats(real=90, padded=100).waste == pytest.approx(0.1)


def test_backend_params_are_checked_at_build_time() -> None:
    with pytest.raises(ConfigError, match="need backend: onnx"):
        registry.create("embedder", "sentence_transformers", {"quantize": "int8"})
    with pytest.raises(ConfigError, match="backend"):
        registry.create("embedder", "sentence_transformers", {"backend": "tensorrt"})


def test_int8_vectors_get_their_own_fingerprint_name() -> None:
    torch_ = registry.create("embedder", "sentence_transformers", {})
    fp32 = registry.create("embedder", "sentence_transformers", {"backend": "onnx"})
    int8 = registry.create("embedder", "sentence_transformers", {"backend": "onnx", "quantize": "int8"})
    assert torch_.name == fp32.name == "sentence-transformers/all-MiniLM-L6-v2"  # same vectors to ~1e-6
    assert int8.name == "sentence-transformers/all-MiniLM-L6-v2+onnx-int8"  # other vectors: other collection


def test_missing_onnxruntime_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    embedder = registry.create("embedder", "sentence_transformers", {"backend": "onnx", "model": "/nonexistent"})
    with pytest.raises(MissingDependencyError, match=r"pip install 'rag-app\[onnx\]'"):
        embedder.embed_query("x")
