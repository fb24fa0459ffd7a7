"""Config validation: every shipped pipeline builds, typos fail with useful messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_app.config import load_config, parse_config
from rag_app.errors import ConfigError
from rag_app.pipeline import build_pipeline
from tests.conftest import PIPELINES, fast_config_dict


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_builds(path: Path) -> None:
    config = load_config(path)
    pipeline = build_pipeline(config)
    assert pipeline.config.name
    assert config.base_dir == path.parent.resolve()


def test_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    config = parse_config(fast_config_dict(tmp_path), base_dir=tmp_path / "pipelines")
    assert config.resolve_path("../data/x.db") == (tmp_path / "data" / "x.db").resolve()
    assert config.resolve_path("/abs/x.db") == Path("/abs/x.db")


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path) | {"retreival": {"top_k": 3}}
    with pytest.raises(ConfigError, match="unknown key 'retreival'"):
        parse_config(data)


def test_unknown_component_param_lists_valid_keys(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["embedder"] = {"type": "hashing", "params": {"dimensions": 64}}
    with pytest.raises(ConfigError, match=r"unknown key 'dimensions'.*valid keys: dimension"):
        build_pipeline(parse_config(data))


def test_unknown_component_type_lists_valid_types(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["store"] = {"type": "milvis"}
    with pytest.raises(ConfigError, match="unknown store type 'milvis'; valid store types: memory, milvus"):
        build_pipeline(parse_config(data))


def test_missing_section_is_named(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    del data["embedder"]
    with pytest.raises(ConfigError, match="missing required key 'embedder'"):
        parse_config(data)


def test_env_references_expand_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = fast_config_dict(tmp_path)
    data["store"]["params"]["path"] = "${RAG_TEST_STORE:-default-store}"
    assert parse_config(data).store.params["path"] == "default-store"
    monkeypatch.setenv("RAG_TEST_STORE", "/tmp/elsewhere")
    assert parse_config(data).store.params["path"] == "/tmp/elsewhere"


def test_unset_env_reference_without_default_fails(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["name"] = "${RAG_SURELY_NOT_SET_123}"
    with pytest.raises(ConfigError, match=r"RAG_SURELY_NOT_SET_123.*not set"):
        parse_config(data)


def test_yaml_syntax_error_reports_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nchunker: {type: recursive\nembedder: y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+"):
        load_config(bad)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_loader_override_must_be_an_extension(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["sources"] = {"loaders": {"md": {"type": "text"}}}
    with pytest.raises(ConfigError, match="must be a file extension"):
        build_pipeline(parse_config(data))


def test_openai_yaml_differs_from_local_yaml_only_in_the_generator_block() -> None:
    import yaml

    local, hosted = (yaml.safe_load((PIPELINES / f"{n}.yaml").read_text(encoding="utf-8")) for n in ("local", "openai"))
    assert local["generator"]["type"] == "llama_cpp" and hosted["generator"]["type"] == "openai"
    for data in (local, hosted):
        for key in ("name", "description", "generator"):
            data.pop(key)
    assert hosted == local
