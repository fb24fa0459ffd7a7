"""Shared app state: one cached Pipeline per config file, and per-session settings/history.

Pipelines are process-wide (``st.cache_resource``): models load once and are
reused by every session and rerun. Two configs that point at the same
collection (``rag_app.store_identity``: the store's location params, whatever
their runtime settings) are never open at once: opening one closes the other,
so one collection never has two stale views (or two BM25 indexes) in a process.
Per-user state (the selected config, chat history) lives in ``st.session_state``.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from rag_app.config import PipelineConfig, load_config
from rag_app.errors import RagError, one_line
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.store_identity import location_key
from rag_app.types import Message
from rag_app.ui.conversations import Turn
from rag_app.ui.settings import UiSettings, load_settings

logger = logging.getLogger(__name__)

_SETTINGS = "rag_settings"
_CONFIG = "rag_config"
_TURNS = "rag_turns"
_PENDING = "rag_pending_question"

__all__ = ["PipelinePool", "Turn", "pool"]


def store_location(config: PipelineConfig) -> str:
    """What identifies a store's data (see ``rag_app.store_identity``): equal strings, one collection."""
    return location_key(config)


@dataclass
class _Entry:
    pipeline: Pipeline
    stamp: tuple[int, int]
    store: str
    ready: threading.Event


class PipelinePool:
    """Pipelines by config path; rebuilt when the YAML file changes on disk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def get(self, path: Path, *, warmup: bool = False) -> Pipeline:
        """The pipeline for the config at ``path`` (built on first use; no I/O until it is used).

        Raises:
            RagError: the config is missing or invalid, or a backend's extra is not installed.
        """
        key = str(path.resolve())
        with self._lock:
            stamp = _stamp(path)
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp:
                return entry.pipeline
            config = load_config(path)
            store = store_location(config)
            for other_key, other in list(self._entries.items()):
                if other_key == key or other.store == store:
                    logger.info("closing the pipeline of %s (replaced by %s)", other_key, key)
                    del self._entries[other_key]
                    _close(other.pipeline)
            pipeline = build_pipeline(config)
            ready = threading.Event()
            self._entries[key] = _Entry(pipeline, stamp, store, ready)
        logger.info("built pipeline %r from %s", config.name, key)
        if warmup:
            threading.Thread(target=_warm, args=(pipeline, ready), name="rag-ui-warmup", daemon=True).start()
        else:
            ready.set()
        return pipeline

    def warming(self, path: Path) -> bool:
        """Whether the pipeline of ``path`` is still loading its models in the background."""
        entry = self._entries.get(str(path.resolve()))
        return entry is not None and not entry.ready.is_set()

    def close_all(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            _close(entry.pipeline)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


def _close(pipeline: Pipeline) -> None:
    try:
        pipeline.close()
    except Exception as exc:  # closing must not break the session that triggered it
        logger.warning("closing a pipeline failed: %s", one_line(exc))


def _warm(pipeline: Pipeline, ready: threading.Event) -> None:
    """Load the embedder, open the store and load the generator in the background.

    The first question then costs what every later one does, instead of model
    loading and store start-up (seconds on a small CPU machine).
    """
    try:
        pipeline.embedder.embed_query("warm up")
        pipeline.search("warm up", top_k=1)  # opens the store; raises when nothing is ingested yet
    except Exception as exc:  # the real call reports the problem properly
        logger.info("store warm-up skipped: %s", one_line(exc))
    try:
        if pipeline.generator is not None:
            pipeline.generator.generate([Message("user", "Hi")], max_tokens=1)
    except Exception as exc:  # the real call reports the problem properly
        logger.info("generator warm-up skipped: %s", one_line(exc))
    finally:
        ready.set()


def _release(pool: PipelinePool) -> None:
    pool.close_all()


@st.cache_resource(show_spinner=False, on_release=_release)
def pool() -> PipelinePool:
    """The process-wide pipeline pool."""
    return PipelinePool()


# ---- per-session state -------------------------------------------------------


def settings() -> UiSettings:
    """This session's settings (read once from script arguments and the environment)."""
    if _SETTINGS not in st.session_state:
        st.session_state[_SETTINGS] = load_settings(sys.argv[1:])
    value: UiSettings = st.session_state[_SETTINGS]
    return value


def selected_config() -> Path:
    """The config file this session uses (the start config until the user picks another)."""
    if _CONFIG not in st.session_state:
        st.session_state[_CONFIG] = settings().config
    value: Path = st.session_state[_CONFIG]
    return value


def select_config(path: Path) -> None:
    st.session_state[_CONFIG] = path


def current_pipeline() -> Pipeline | None:
    """The selected config's pipeline, or None after showing why it could not be built."""
    path = selected_config()
    try:
        pipeline = pool().get(path, warmup=settings().warmup)
    except RagError as exc:
        st.error(f"Cannot use {path.name}: {one_line(exc)}", icon=":material/error:")
        return None
    except Exception as exc:  # an unexpected failure is still one line in the page
        logger.exception("building the pipeline for %s failed", path)
        st.error(f"Cannot use {path.name}: {one_line(exc)}", icon=":material/error:")
        return None
    return pipeline


def warming_notice() -> Any:
    """A sidebar note while models load in the background; the returned slot can be cleared later."""
    slot = st.sidebar.empty()
    if pool().warming(selected_config()):
        slot.caption(":material/hourglass_top: Loading models in the background: the first answer may be slower.")
    return slot


def turns() -> list[Turn]:
    """This session's conversation (mutable; append to add a turn)."""
    if _TURNS not in st.session_state:
        st.session_state[_TURNS] = []
    value: list[Turn] = st.session_state[_TURNS]
    return value


def set_turns(items: list[Turn]) -> None:
    st.session_state[_TURNS] = items


def clear_turns() -> None:
    st.session_state[_TURNS] = []


def ask_later(question: str) -> None:
    """Have the chat page answer ``question`` on this run, as if it had been typed (a widget callback)."""
    st.session_state[_PENDING] = question


def pending_question() -> str | None:
    """The question an example or a regenerate button asked for (once)."""
    value: str | None = st.session_state.pop(_PENDING, None)
    return value


def history_messages(items: list[Turn], max_turns: int = 4) -> list[Message]:
    """The last ``max_turns`` answered turns as chat messages for ``Pipeline.stream(history=...)``.

    Older turns are left out so a long conversation cannot outgrow a small model's context.
    """
    messages: list[Message] = []
    answered = [t for t in items if t.answer is not None and not t.answer.abstained]
    for turn in answered[-max_turns:]:
        assert turn.answer is not None
        messages += [Message("user", turn.question), Message("assistant", turn.answer.text)]
    return messages
