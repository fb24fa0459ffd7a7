"""Store identity on a real Milvus Lite file: runtime settings keep the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag_app.config import parse_config
from rag_app.pipeline import Pipeline, build_pipeline
from tests.conftest import fast_config_dict

pytest.importorskip("pymilvus", reason="pip install 'rag-app[milvus]'")

pytestmark = pytest.mark.slow

RUNTIME = {"timeout_s": 12.5, "batch_size": 5, "search_params": {"nprobe": 4}, "consistency_level": "Bounded"}


def milvus_pipeline(tmp: Path, **params: Any) -> Pipeline:
    data = fast_config_dict(tmp / "state")
    data["store"] = {"type": "milvus", "params": {"uri": "index/lite.db", "collection": "docs", **params}}
    return build_pipeline(parse_config(data, base_dir=tmp))


def test_runtime_change_reingests_nothing_and_still_prunes(tmp_path: Path, docs_dir: Path) -> None:
    first = milvus_pipeline(tmp_path)
    try:
        assert first.ingest([docs_dir]).embeddings_computed > 0
        before = first.store.count()
    finally:
        first.close()

    changed = milvus_pipeline(tmp_path, **RUNTIME)
    try:
        assert changed.manifest_path() == first.manifest_path()
        report = changed.ingest([docs_dir])
        assert (report.files_unchanged, report.embeddings_computed, report.chunks_added) == (3, 0, 0)
        (docs_dir / "notes" / "bm25.txt").unlink()
        pruned = changed.ingest([docs_dir])
        assert pruned.files_removed == 1 and pruned.chunks_removed >= 1 and pruned.embeddings_computed == 0
        assert changed.store.count() == before - pruned.chunks_removed
        assert all("bm25" not in h.chunk.source for h in changed.search("term frequency", top_k=10))
    finally:
        changed.close()

    again = milvus_pipeline(tmp_path, timeout_s=3)
    try:
        assert again.ingest([docs_dir]).embeddings_computed == 0
    finally:
        again.close()
