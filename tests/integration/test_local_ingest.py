"""The default local stack for real: packaged MiniLM + Milvus Lite on the demo corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag_app.config import load_config, parse_config
from rag_app.pipeline import Pipeline, build_pipeline
from tests.conftest import CORPUS, PIPELINES, REPO

pytestmark = pytest.mark.slow

KNOWN = REPO / "eval" / "datasets" / "handbook" / "known_questions.json"


def local_pipeline(tmp: Path) -> Pipeline:
    """pipelines/local.yaml with its index moved into ``tmp``."""
    base = load_config(PIPELINES / "local.yaml")
    data: dict[str, Any] = base.model_dump(exclude={"base_dir"})
    data["store"]["params"]["uri"] = str(tmp / "milvus.db")
    data["ingest"]["state_dir"] = str(tmp / "state")
    return build_pipeline(parse_config(data, base_dir=base.base_dir))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, Any]:
    pipeline = local_pipeline(tmp_path_factory.mktemp("local"))
    report = pipeline.ingest([CORPUS])
    yield pipeline, report
    pipeline.close()


def test_whole_corpus_ingests_without_failures(ingested: tuple[Pipeline, Any]) -> None:
    pipeline, report = ingested
    formats = {p.suffix for p in CORPUS.rglob("*") if p.is_file()}
    assert formats >= {".md", ".txt", ".html", ".pdf", ".docx"}
    assert report.files_failed == 0, report.errors
    assert report.files_new == sum(1 for p in CORPUS.rglob("*") if p.is_file())
    assert pipeline.store.count() == report.chunks_added == report.embeddings_computed


@pytest.mark.parametrize(
    "case", json.loads(KNOWN.read_text()) if KNOWN.exists() else [], ids=lambda c: c["question"][:40]
)
def test_known_questions_find_their_document(ingested: tuple[Pipeline, Any], case: dict[str, str]) -> None:
    pipeline, _ = ingested
    hits = pipeline.search(case["question"], top_k=3)
    assert case["expected_source"] in [h.chunk.metadata["relpath"] for h in hits]


def test_pdf_chunks_know_their_page(ingested: tuple[Pipeline, Any]) -> None:
    pipeline, _ = ingested
    from rag_app.types import Filter

    hits = pipeline.search("training", top_k=20, filters=[Filter("format", "eq", "pdf")])
    assert hits and all(h.chunk.metadata["format"] == "pdf" for h in hits)
    assert all(isinstance(h.chunk.metadata["page"], int) and h.chunk.metadata["page"] >= 1 for h in hits)


def test_incremental_lifecycle_with_real_models(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    files = sorted(p for p in CORPUS.rglob("*.md"))[:3]
    corpus.mkdir()
    for f in files:
        shutil.copy(f, corpus / f.name)
    pipeline = local_pipeline(tmp_path)
    first = pipeline.ingest([corpus])
    assert first.files_new == 3 and first.embeddings_computed > 0
    assert pipeline.ingest([corpus]).embeddings_computed == 0

    edited = corpus / files[0].name
    edited.write_text(edited.read_text() + "\n\n## Appendix\n\nA new closing remark about zebras.\n")
    report = pipeline.ingest([corpus])
    assert (report.files_changed, report.files_unchanged) == (1, 2)
    manifest_chunks = {d["source"]: d["chunks"] for d in pipeline.documents()}
    assert report.embeddings_computed <= manifest_chunks[edited.resolve().as_posix()]
    assert pipeline.search("zebras", top_k=1)[0].chunk.source == edited.resolve().as_posix()

    gone = corpus / files[1].name
    gone.unlink()
    count = pipeline.store.count()
    report = pipeline.ingest([corpus])
    assert report.files_removed == 1
    assert pipeline.store.count() == count - manifest_chunks[gone.resolve().as_posix()]
    assert all(h.chunk.source != gone.resolve().as_posix() for h in pipeline.search("the", top_k=50))
    pipeline.close()
