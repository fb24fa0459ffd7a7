"""Fixtures for the Streamlit AppTest suite: a hashing + memory pipeline and a scripted generator."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("streamlit")

import streamlit as st
from streamlit.testing.v1 import AppTest

from rag_app.config import PipelineConfig, load_config
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import GenerationResult, Message
from rag_app.ui import state

APP = Path(__file__).resolve().parents[2] / "rag_app" / "ui" / "app.py"
REPO = Path(__file__).resolve().parents[2]
ANSWER = ["Attention ", "grows ", "quadratically ", "[1]", "."]


class ScriptedGenerator:
    """A deterministic Generator: streams fixed pieces, records the messages it was given."""

    name = "scripted"
    runs_locally = True  # in-process: follow-ups are not condensed unless the config asks

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = list(pieces)
        self.calls: list[list[Message]] = []
        self.finish_reason: str | None = None  # set: the stream returns a result with it

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        self.calls.append(list(messages))
        return GenerationResult("".join(self.pieces))

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> Generator[str, None, GenerationResult | None]:
        self.calls.append(list(messages))
        yield from self.pieces
        if self.finish_reason is None:
            return None
        text = "".join(self.pieces)
        return GenerationResult(text, 100, self.count_tokens(text), self.finish_reason)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def write_config(path: Path, store: Path, **overrides: Any) -> Path:
    """pipelines/test.yaml with its store and state moved under ``store``."""
    data = yaml.safe_load((REPO / "pipelines" / "test.yaml").read_text(encoding="utf-8"))
    data["store"]["params"]["path"] = str(store / "memory")
    data["ingest"]["state_dir"] = str(store)
    data["answer"] = {"min_score": 0.05}  # hashing cosine: unrelated questions score ~0
    data.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class UiEnv:
    """Paths of one test's app: two configs (one ingested, one empty), uploads, reports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs = root / "docs"
        self.config = write_config(root / "pipelines" / "a-handbook.yaml", root / "state-a", name="handbook")
        self.empty_config = write_config(root / "pipelines" / "b-empty.yaml", root / "state-b", name="empty")
        self.uploads = root / "uploads"
        self.reports = root / "reports"
        self.generator = ScriptedGenerator(ANSWER)

    def app(self, timeout: float = 30) -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=timeout)


@pytest.fixture
def ui_env(tmp_path: Path, docs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UiEnv]:
    env = UiEnv(tmp_path)
    env.docs = docs_dir
    pipeline = build_pipeline(load_config(env.config))
    report = pipeline.ingest([docs_dir])
    assert report.files_failed == 0
    pipeline.close()

    def build_with_scripted_generator(config: PipelineConfig) -> Pipeline:
        built = build_pipeline(config)
        built.generator = env.generator
        return built

    monkeypatch.setattr(state, "build", build_with_scripted_generator)
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
