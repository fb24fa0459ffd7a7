"""The registry imports lazily and turns missing packages into install hints."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from rag_app import registry
from rag_app.config import load_config
from rag_app.errors import ConfigError, MissingDependencyError
from rag_app.pipeline import build_pipeline
from rag_app.types import GenerationResult, Message


def test_import_rag_app_is_light() -> None:
    code = (
        "import sys, rag_app, rag_app.pipeline, rag_app.config;"
        "heavy = [m for m in ('torch', 'pymilvus', 'transformers', 'sentence_transformers', 'openai')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_registered_backend_imports_and_has_strict_params() -> None:
    for kind, entries in registry.REGISTRY.items():
        for name in entries:
            cls = registry.resolve(kind, name)
            assert cls.Params.model_config.get("extra") == "forbid", (kind, name)


def test_missing_dependency_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        registry.REGISTRY["store"], "ghost", ("rag_app_missing_pkg_xyz.mod:Store", "ghostextra")
    )
    with pytest.raises(MissingDependencyError, match=r"pip install 'rag-app\[ghostextra\]'"):
        registry.resolve("store", "ghost")


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown component kind"):
        registry.resolve("reranker-typo", "x")


def test_registered_backend_is_selected_by_name_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "custom.yaml"
    config.write_text(
        "name: custom\nchunker: {type: recursive}\nembedder: {type: hashing, params: {dimension: 32}}\n"
        f"store: {{type: memory, params: {{path: {tmp_path / 'store'}}}}}\n"
        "generator: {type: canned, params: {reply: 'Always this [1].'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="unknown generator type 'canned'"):
        build_pipeline(load_config(config))
    registry.register("generator", "canned", f"{__name__}:YamlCannedGenerator")
    try:
        pipeline = build_pipeline(load_config(config))
        assert isinstance(pipeline.generator, YamlCannedGenerator)
        assert pipeline.generator.generate([]).text == "Always this [1]."
        assert "canned" in registry.names("generator")
    finally:
        registry.unregister("generator", "canned")
    assert "canned" not in registry.names("generator")


def test_register_refuses_taken_names_bad_targets_and_built_ins() -> None:
    with pytest.raises(ConfigError, match="generator type 'openai' is already registered as "
                       "rag_app.backends.generators.openai:OpenAIGenerator; pick another name"):
        registry.register("generator", "openai", f"{__name__}:YamlCannedGenerator")
    with pytest.raises(ConfigError, match="target 'YamlCannedGenerator' is not 'module:Class'"):
        registry.register("generator", "canned", "YamlCannedGenerator")
    with pytest.raises(ConfigError, match="unknown component kind 'generators'"):
        registry.register("generators", "canned", f"{__name__}:YamlCannedGenerator")
    with pytest.raises(ConfigError, match="generator type 'openai' is built in"):
        registry.unregister("generator", "openai")
    assert "openai" in registry.names("generator")


def test_a_registered_backend_that_cannot_be_imported_is_one_line() -> None:
    registry.register("generator", "missing_module", "myapp_not_installed.generators:MyGenerator")
    registry.register("generator", "missing_class", f"{__name__}:NoSuchGenerator")
    registry.register("generator", "no_params", f"{__name__}:Message")
    try:
        with pytest.raises(ConfigError, match=rf"^generator 'no_params' \({__name__}:Message\) has no pydantic "
                           "Params model; add one$"):
            registry.validate_params("generator", "no_params", {})
        with pytest.raises(ConfigError) as missing_module:
            registry.resolve("generator", "missing_module")
        with pytest.raises(ConfigError) as missing_class:
            registry.resolve("generator", "missing_class")
    finally:
        registry.unregister("generator", "missing_module")
        registry.unregister("generator", "missing_class")
        registry.unregister("generator", "no_params")
    assert not isinstance(missing_module.value, MissingDependencyError)  # no rag-app extra would fix it
    assert str(missing_module.value) == (
        "generator 'missing_module' is registered as myapp_not_installed.generators:MyGenerator, "
        "which cannot be imported (No module named 'myapp_not_installed')"
    )
    assert str(missing_class.value).startswith(
        f"generator 'missing_class' is registered as {__name__}:NoSuchGenerator, which cannot be imported ("
    )


class YamlCannedGenerator:
    """A generator an application adds in code: one fixed reply (``params.reply``)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        reply: str

    name = "canned"
    runs_locally = True

    def __init__(self, params: Params, **_: object) -> None:
        self.reply = params.reply

    def generate(self, messages: Sequence[Message], *, max_tokens: int | None = None,
                 stop: Sequence[str] = ()) -> GenerationResult:
        return GenerationResult(self.reply)

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               stop: Sequence[str] = ()) -> Iterator[str]:
        yield self.reply

    def count_tokens(self, text: str) -> int:
        return len(text.split())
