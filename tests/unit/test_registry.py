"""The registry imports lazily and turns missing packages into install hints."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag_app import registry
from rag_app.errors import ConfigError, MissingDependencyError


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
