"""Store identity: state is keyed on where a collection lives, not on runtime settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry, store_identity
from rag_app.config import PipelineConfig, parse_config
from rag_app.errors import ConfigError
from rag_app.evaluation import configs
from rag_app.pipeline import build_pipeline
from tests.conftest import fast_config_dict

MakeConfig = Callable[..., PipelineConfig]


def store(path: Path, **params: Any) -> dict[str, Any]:
    return {"type": "memory", "params": {"path": str(path), **params}}


def test_runtime_change_reuses_the_manifest_and_embeds_nothing(
    make_config: MakeConfig, docs_dir: Path, tmp_path: Path
) -> None:
    first = build_pipeline(make_config(store=store(tmp_path / "state" / "store")))
    assert first.ingest([docs_dir]).embeddings_computed > 0
    changed = build_pipeline(make_config(store=store(tmp_path / "state" / "store", batch_size=7)))
    assert changed.manifest_path() == first.manifest_path()
    report = changed.ingest([docs_dir])
    assert (report.files_unchanged, report.embeddings_computed, report.chunks_added) == (3, 0, 0)


def test_prune_after_a_runtime_change_removes_the_deleted_file(
    make_config: MakeConfig, docs_dir: Path, tmp_path: Path
) -> None:
    first = build_pipeline(make_config(store=store(tmp_path / "state" / "store")))
    first.ingest([docs_dir])
    before = first.store.count()
    (docs_dir / "notes" / "bm25.txt").unlink()
    changed = build_pipeline(make_config(store=store(tmp_path / "state" / "store", batch_size=3)))
    report = changed.ingest([docs_dir])
    assert report.files_removed == 1 and report.chunks_removed >= 1 and report.embeddings_computed == 0
    assert changed.store.count() == before - report.chunks_removed
    assert all("bm25" not in d["source"] for d in changed.documents())


def test_a_different_location_gets_its_own_manifest(make_config: MakeConfig, tmp_path: Path) -> None:
    a = build_pipeline(make_config(store=store(tmp_path / "a")))
    b = build_pipeline(make_config(store=store(tmp_path / "b")))
    assert a.manifest_path() != b.manifest_path()


def test_state_written_under_the_old_all_params_key_is_adopted(
    make_config: MakeConfig, docs_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("bm25s", reason="the BM25 retriever needs rag-app[hybrid]")
    hybrid = {"retrievers": [{"type": "dense"}, {"type": "bm25"}]}
    config = make_config(store=store(tmp_path / "state" / "store", batch_size=9), retrieval=hybrid)
    old = build_pipeline(config)
    old.ingest([docs_dir])
    # What an older version left behind: the same files under the all-params names.
    for kind, suffix in (("manifest", ".json"), ("bm25", "")):
        store_identity.state_path(config, kind, suffix).rename(store_identity.legacy_state_path(config, kind, suffix))
    legacy = store_identity.legacy_state_path(config, "manifest", ".json")
    assert legacy.exists() and not store_identity.state_path(config, "manifest", ".json").exists()

    caplog.set_level(logging.INFO)
    upgraded = build_pipeline(config)
    report = upgraded.ingest([docs_dir])
    assert (report.files_unchanged, report.embeddings_computed) == (3, 0)
    assert not legacy.exists() and upgraded.manifest_path().exists()
    assert not any("rebuilding the BM25Retriever index" in r.message for r in caplog.records)
    assert upgraded.search("term frequency", top_k=1)[0].chunk.source.endswith("bm25.txt")


def test_adoption_never_overwrites_newer_state(make_config: MakeConfig, docs_dir: Path, tmp_path: Path) -> None:
    config = make_config(store=store(tmp_path / "state" / "store", batch_size=5))
    build_pipeline(config).ingest([docs_dir])
    legacy = store_identity.legacy_state_path(config, "manifest", ".json")
    legacy.write_text("{not json", encoding="utf-8")
    assert store_identity.adopt_legacy_state(config, [("manifest", ".json")]) == []
    assert legacy.read_text(encoding="utf-8") == "{not json"  # left alone, not merged or deleted
    assert build_pipeline(config).ingest([docs_dir]).embeddings_computed == 0


def parsed(tmp_path: Path, kind: str, params: dict[str, Any]) -> PipelineConfig:
    data = fast_config_dict(tmp_path / "state")
    data["store"] = {"type": kind, "params": params}
    return parse_config(data, base_dir=tmp_path)


MILVUS_RUNTIME = {"timeout_s": 5, "batch_size": 8, "search_params": {"ef": 64}, "consistency_level": "Bounded"}


@pytest.mark.parametrize(
    ("kind", "base", "runtime", "elsewhere"),
    [
        ("memory", {"path": "idx/store"}, {"batch_size": 3}, {"path": "idx/other"}),
        ("milvus", {"uri": "idx/m.db", "collection": "docs"}, MILVUS_RUNTIME, {"collection": "notes"}),
        ("milvus", {"uri": "http://127.0.0.1:19530/"}, {"token_env": "MILVUS_TOKEN"}, {"db_name": "other"}),
        (
            "pinecone",
            {"index": "docs", "host": "http://127.0.0.1:5080"},
            {"timeout_s": 3, "retries": 1, "consistency_wait_s": 0, "api_key_env": "K", "region": "eu-west-1"},
            {"namespace": "other"},
        ),
    ],
)
def test_location_ignores_runtime_params_only(
    tmp_path: Path, kind: str, base: dict[str, Any], runtime: dict[str, Any], elsewhere: dict[str, Any]
) -> None:
    pytest.importorskip("pymilvus" if kind == "milvus" else "pinecone" if kind == "pinecone" else "numpy")
    key = store_identity.location_key(parsed(tmp_path, kind, base))
    assert store_identity.location_key(parsed(tmp_path, kind, {**base, **runtime})) == key
    assert store_identity.location_key(parsed(tmp_path, kind, {**base, **elsewhere})) != key
    state = store_identity.state_path(parsed(tmp_path, kind, base), "manifest", ".json")
    assert store_identity.state_path(parsed(tmp_path, kind, {**base, **runtime}), "manifest", ".json") == state


def test_relative_and_absolute_spellings_of_one_file_are_one_location(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    relative = parsed(tmp_path / "pipelines", "milvus", {"uri": "../data/x.db"})
    absolute = parsed(tmp_path, "milvus", {"uri": str(tmp_path / "data" / "x.db"), "collection": "rag_chunks"})
    assert store_identity.location(relative) == store_identity.location(absolute)
    assert store_identity.location(relative)["uri"] == str(tmp_path / "data" / "x.db")


def test_eval_isolation_and_cache_key_for_every_store(tmp_path: Path) -> None:
    pytest.importorskip("pinecone")
    pine = parsed(tmp_path, "pinecone", {"index": "docs", "namespace": "mine", "timeout_s": 3})
    iso = configs.isolate(pine, tmp_path / "c", "abc")
    assert iso.store.params == {"index": "docs", "namespace": "eval_abc", "timeout_s": 3}
    assert configs.cache_key(pine, "sum") == configs.cache_key(
        parsed(tmp_path, "pinecone", {"index": "docs", "namespace": "yours", "retries": 0}), "sum"
    )
    assert configs.cache_key(pine, "sum") != configs.cache_key(
        parsed(tmp_path, "pinecone", {"index": "other", "namespace": "mine"}), "sum"
    )
    server = parsed(tmp_path, "milvus", {"uri": "http://h:19530", "collection": "c", "search_params": {"ef": 8}})
    assert configs.isolate(server, tmp_path / "c", "k").store.params["uri"] == "http://h:19530"
    other_server = parsed(tmp_path, "milvus", {"uri": "http://other:19530", "collection": "c"})
    assert configs.cache_key(server, "sum") != configs.cache_key(other_server, "sum")
    same_server = parsed(tmp_path, "milvus", {"uri": "http://h:19530", "collection": "d"})
    assert configs.cache_key(server, "sum") == configs.cache_key(same_server, "sum")


@pytest.mark.parametrize("name", registry.names("store"))
def test_every_store_declares_its_location_and_runtime_params(name: str) -> None:
    try:
        cls = registry.resolve("store", name)
    except Exception as exc:  # an optional extra that is not installed
        pytest.skip(str(exc))
    fields = set(cls.Params.model_fields)
    location, runtime = set(cls.location_params), set(cls.runtime_params)
    assert location and location <= fields and runtime <= fields and not location & runtime
    assert callable(cls.location) and callable(cls.isolated)


def test_a_stored_setting_change_is_still_an_error_when_every_file_is_unchanged(
    make_config: MakeConfig, docs_dir: Path, tmp_path: Path
) -> None:
    build_pipeline(make_config(store=store(tmp_path / "state" / "store"))).ingest([docs_dir])
    changed = build_pipeline(make_config(store=store(tmp_path / "state" / "store", metric="IP")))
    with pytest.raises(ConfigError, match="was built with metric COSINE"):
        changed.ingest([docs_dir])
