"""``rag migrate``: the same pipeline with only ``store:`` changed, copied without re-embedding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag_app.config import parse_config
from rag_app.errors import FingerprintMismatchError, InputError
from rag_app.ingest.manifest import Manifest
from rag_app.migrate import migrate
from rag_app.pipeline import Pipeline, build_pipeline
from tests.conftest import fast_config_dict
from tests.support import pinecone_server

pytestmark = pytest.mark.slow

TOPICS = ["attention", "lora", "bm25", "milvus", "pinecone", "chunking", "rerank", "citations", "eval", "ui"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for i, topic in enumerate(TOPICS):
        words = " ".join(f"{topic}{j} fact{i}x{j}" for j in range(40))
        (root / f"{topic}.md").write_text(f"# {topic}\n\n{words}\n\nSee also {TOPICS[i - 1]}.\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def pinecone() -> Iterator[pinecone_server.PineconeServer]:
    pytest.importorskip("pinecone", reason="pinecone: pip install 'rag-app[pinecone]'")
    with pinecone_server.PineconeServer() as server, pinecone_server.sdk_env(server), pinecone_server.registered():
        yield server


def config(tmp: Path, store: dict[str, Any], name: str = "src", **extra: Any) -> dict[str, Any]:
    data = fast_config_dict(tmp / "state")
    data.update(name=name, store=store, **extra)
    return data


def pipeline(tmp: Path, data: dict[str, Any]) -> Pipeline:
    return build_pipeline(parse_config(data, base_dir=tmp))


def lite_store(tmp: Path) -> dict[str, Any]:
    pytest.importorskip("pymilvus", reason="milvus: pip install 'rag-app[milvus]'")
    return {"type": "milvus", "params": {"uri": str(tmp / "target.db"), "collection": "migrated"}}


def pinecone_store(server: pinecone_server.PineconeServer, index: str) -> dict[str, Any]:
    params = {"index": index, "namespace": "docs", "controller_host": server.url, "create_index": True,
              "api_key_env": pinecone_server.API_KEY_ENV, "batch_size": 7}
    return {"type": "pinecone", "params": params}


def memory_store(tmp: Path) -> dict[str, Any]:
    return {"type": "memory", "params": {"path": str(tmp / "state" / "source")}}


def ingested_source(tmp: Path, corpus: Path) -> Pipeline:
    src = pipeline(tmp, config(tmp, memory_store(tmp)))
    report = src.ingest([corpus])
    assert report.files_failed == 0 and report.chunks_added > 20
    return src


def check_copy(src: Pipeline, dst: Pipeline, corpus: Path) -> None:
    report = migrate(src, dst, batch_size=8, sample=12)
    assert report.ok, report.as_dict()
    assert report.chunks_copied == report.source_count == report.target_count == src.store.count()
    assert report.sampled == 12 and not report.sample_mismatches
    copied = Manifest.load(dst.manifest_path())
    assert copied.sources == Manifest.load(src.manifest_path()).sources
    # The target answers like the source ...
    for query in ("lora3 fact1x3", "pinecone7 fact4x7", "ui0"):
        assert [h.chunk.chunk_id for h in dst.search(query, top_k=4)] == [
            h.chunk.chunk_id for h in src.search(query, top_k=4)
        ]
    # ... and re-ingesting the same corpus into it embeds nothing: the manifest came along.
    again = dst.ingest([corpus])
    assert again.embeddings_computed == 0 and again.files_unchanged == len(TOPICS)


def test_memory_to_milvus_lite(tmp_path: Path, corpus: Path) -> None:
    src = ingested_source(tmp_path, corpus)
    dst = pipeline(tmp_path, config(tmp_path, lite_store(tmp_path), name="dst"))
    try:
        check_copy(src, dst, corpus)
    finally:
        src.close()
        dst.close()


def test_milvus_lite_to_pinecone_protocol(
    tmp_path: Path, corpus: Path, pinecone: pinecone_server.PineconeServer
) -> None:
    lite = pipeline(tmp_path, config(tmp_path, lite_store(tmp_path), name="lite"))
    lite.ingest([corpus])
    dst = pipeline(tmp_path, config(tmp_path, pinecone_store(pinecone, "migrate-target"), name="pc"))
    try:
        check_copy(lite, dst, corpus)
        back = pipeline(tmp_path, config(tmp_path, memory_store(tmp_path), name="back"))
        report = migrate(dst, back, batch_size=5, sample=5)  # and back out of Pinecone (list + fetch)
        assert report.ok and report.chunks_copied == lite.store.count()
        back.close()
    finally:
        lite.close()
        dst.close()


def test_refuses_other_embedder_same_store_and_non_empty_target(tmp_path: Path, corpus: Path) -> None:
    src = ingested_source(tmp_path, corpus)
    hashing_64 = {"type": "hashing", "params": {"dimension": 64}}
    other = config(tmp_path, lite_store(tmp_path), name="dst", embedder=hashing_64)
    with pytest.raises(FingerprintMismatchError, match="without re-embedding"):
        migrate(src, pipeline(tmp_path, other))
    with pytest.raises(InputError, match="same store"):
        migrate(src, pipeline(tmp_path, config(tmp_path, memory_store(tmp_path), name="again")))
    dst = pipeline(tmp_path, config(tmp_path, lite_store(tmp_path), name="dst"))
    assert migrate(src, dst, sample=2).ok
    with pytest.raises(InputError, match="--replace"):
        migrate(src, dst)
    assert migrate(src, dst, replace=True, sample=2).ok
    dst.close()
    empty = pipeline(tmp_path, config(tmp_path, {"type": "memory", "params": {"path": str(tmp_path / "none")}}))
    with pytest.raises(InputError, match="nothing to migrate"):
        migrate(empty, dst)


def test_cli_migrate_between_yaml_files(tmp_path: Path, corpus: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from rag_app.cli.migrate import migrate as migrate_command

    src = ingested_source(tmp_path, corpus)
    src.close()
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(config(tmp_path, memory_store(tmp_path))), encoding="utf-8")
    b.write_text(yaml.safe_dump(config(tmp_path, lite_store(tmp_path), name="dst")), encoding="utf-8")
    app = typer.Typer()
    app.command("migrate")(migrate_command)
    app.command("noop")(lambda: None)  # two commands, so "migrate" stays a sub-command
    result = CliRunner().invoke(app, ["migrate", "--from", str(a), "--to", str(b), "--json", "--sample", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["chunks_copied"] == data["target_count"] > 20
    again = CliRunner().invoke(app, ["migrate", "--from", str(a), "--to", str(b)])
    assert again.exit_code == 2 and "--replace" in again.output
