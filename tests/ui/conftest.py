"""Fixtures for the Streamlit AppTest suite: a hashing + memory pipeline with a scripted generator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("streamlit")

import streamlit as st
from streamlit.testing.v1 import AppTest

from rag_app.config import load_config
from rag_app.pipeline import build_pipeline
from tests.support.scripted_generator import Script, scripted

APP = Path(__file__).resolve().parents[2] / "rag_app" / "ui" / "app.py"
REPO = Path(__file__).resolve().parents[2]
ANSWER = ["Attention ", "grows ", "quadratically ", "[1]", "."]


def write_config(path: Path, store: Path, **overrides: Any) -> Path:
    """pipelines/test.yaml with its store and state moved under ``store``."""
    data = yaml.safe_load((REPO / "pipelines" / "test.yaml").read_text(encoding="utf-8"))
    data["store"]["params"]["path"] = str(store / "memory")
    data["ingest"]["state_dir"] = str(store)
    data["answer"] = {"min_score": 0.05}  # hashing cosine: unrelated questions score ~0
    data["generator"] = {"type": "scripted", "params": {"script": "ui"}}
    data.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class UiEnv:
    """Paths of one test's app: two configs (one ingested, one empty), uploads, reports."""

    def __init__(self, root: Path, generator: Script) -> None:
        self.root = root
        self.docs = root / "docs"
        self.config = write_config(root / "pipelines" / "a-handbook.yaml", root / "state-a", name="handbook")
        self.empty_config = write_config(root / "pipelines" / "b-empty.yaml", root / "state-b", name="empty")
        self.uploads = root / "uploads"
        self.reports = root / "reports"
        self.generator = generator  # what the app's generator streams, and what it was asked

    def app(self, timeout: float = 30) -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=timeout)


@pytest.fixture
def ui_env(tmp_path: Path, docs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UiEnv]:
    with scripted("ui", ANSWER) as script:
        env = UiEnv(tmp_path, script)
        env.docs = docs_dir
        pipeline = build_pipeline(load_config(env.config))
        report = pipeline.ingest([docs_dir])
        assert report.files_failed == 0
        pipeline.close()
        script.built = 0  # count the app's own builds
        monkeypatch.setenv("RAG_CONFIG", str(env.config))
        monkeypatch.setenv("RAG_UPLOADS_DIR", str(env.uploads))
        monkeypatch.setenv("RAG_REPORTS_DIR", str(env.reports))
        monkeypatch.setenv("RAG_UI_WARMUP", "0")
        st.cache_resource.clear()
        yield env
        st.cache_resource.clear()


@pytest.fixture
def ask() -> Callable[[AppTest, str], AppTest]:
    def submit(at: AppTest, question: str) -> AppTest:
        at.chat_input[0].set_value(question)
        return at.run()

    return submit
