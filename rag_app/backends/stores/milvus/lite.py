"""Milvus Lite specifics: opening and releasing ``.db`` files, and what each engine supports.

pymilvus starts one in-process Milvus Lite gRPC server per ``.db`` path and
keeps it (and the file's exclusive ``flock``) until the interpreter exits;
``MilvusClient.close()`` does not release it. We count the stores using each
path and stop its server when the last one closes, so the file can be opened
again (by this process or another) after ``close()``.

By default a local path is not opened in-process at all: :mod:`._lite_server`
starts (or reuses) one Milvus Lite server process per data directory on
127.0.0.1, so the UI, ``rag serve`` and CLI commands share one ``.db`` at once
(``RAG_MILVUS_LITE_SERVER=off`` restores the in-process, one-process mode).

Milvus Lite 3.2 rejects or ignores some analyzer settings that servers honour,
and Milvus 2.3 servers have no BM25 function: :func:`analyzer_problem` and
:func:`full_text_problem` turn both into one-line errors before anything is created.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag_app.backends.stores.milvus import lite_server
from rag_app.errors import BackendError, ConfigError, first_line

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_users: dict[str, int] = {}  # in-process opens per path
_shared: dict[str, int] = {}  # opens through the shared server per path


@contextmanager
def _quiet_lite_manager() -> Iterator[None]:
    manager = logging.getLogger("milvus_lite.server_manager")
    level = manager.level
    manager.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        manager.setLevel(level)


def connect(path: Path, client_factory: Any) -> Any:
    """Open ``path`` with ``client_factory(str(path))``, counting it as one more user.

    Raises:
        BackendError: the file is locked by another process, or Milvus Lite failed to start.
    """
    key = os.path.abspath(path)
    if path.is_file():
        raise BackendError(
            f"{path} is a file, not a Milvus Lite 3 data directory (written by an older milvus-lite?); "
            "point uri at a new .db path and re-ingest"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if lite_server.shared():
        uri = lite_server.acquire(path)
        try:
            client = client_factory(uri)
        except Exception as exc:
            lite_server.release(path)
            raise BackendError(
                f"cannot reach the Milvus Lite server for {path} at {uri}: {error_message(exc)}"
            ) from exc
        with _lock:
            _shared[key] = _shared.get(key, 0) + 1
        return client
    with _lock:
        try:
            with _quiet_lite_manager():  # it logs the locked-file traceback itself; our error says it in one line
                client = client_factory(key)
        except Exception as exc:
            if _locked_elsewhere(path):
                raise BackendError(
                    f"Milvus Lite file {path} is open in another process; close that process, or let every "
                    f"process share the file (unset {lite_server.MODE_ENV}=off, or run `milvus-lite server "
                    f"--data-dir {path} --host 127.0.0.1` and set the store uri to http://127.0.0.1:19530)"
                ) from exc
            raise BackendError(f"cannot open Milvus Lite file {path}: {error_message(exc)}") from exc
        _users[key] = _users.get(key, 0) + 1
    return client


def release(path: Path) -> None:
    """One user of ``path`` is done; stop its Lite server when it was the last."""
    key = os.path.abspath(path)
    with _lock:
        if _shared.get(key, 0) > 0:
            _shared[key] -= 1
            lite_server.release(path)
            return
        left = _users.get(key, 0) - 1
        if left > 0:
            _users[key] = left
            return
        _users.pop(key, None)
        try:
            from milvus_lite.server_manager import server_manager_instance
        except ImportError:  # pragma: no cover - Lite paths are only opened with milvus_lite present
            return
        server_manager_instance.release_server(key)
        logger.debug("released Milvus Lite file %s", key)


def _locked_elsewhere(path: Path) -> bool:
    """Whether another process holds Milvus Lite's ``LOCK`` file in ``path``."""
    try:
        return lite_server.flock_held(path / "LOCK")
    except ImportError:  # pragma: no cover - Windows (no fcntl): cannot probe, assume not
        return False


def error_message(exc: BaseException) -> str:
    """The first line of a pymilvus error's own message (not its ``<MilvusException ...>`` repr)."""
    return first_line(str(getattr(exc, "message", "") or exc)) or type(exc).__name__


# --------------------------------------------------------------------------- engine capabilities


def check_full_text_engine(where: str, server_version: str, analyzer: dict[str, Any]) -> None:
    """Raise a one-line ConfigError if this engine cannot run full-text search with ``analyzer``."""
    problem = full_text_problem(server_version)
    if problem:
        raise ConfigError(
            f"{where}: {problem}; set store.params.full_text: false (the 'bm25' retriever works with any store)"
        )
    if is_lite(server_version) and (problem := analyzer_problem(analyzer)):
        raise ConfigError(
            f"{where}: Milvus Lite cannot apply store.params.full_text.analyzer {problem}; "
            "change the analyzer or use a Milvus >= 2.5 server"
        )


def is_lite(server_version: str) -> bool:
    """Whether ``get_server_version()`` names the Milvus Lite engine (a .db file or ``milvus-lite server``)."""
    return server_version.startswith("milvus_lite")


def full_text_problem(server_version: str) -> str | None:
    """Why this engine cannot run BM25 full-text search, or None (Lite 3.x and Milvus >= 2.5 can)."""
    match = re.match(r"v?(\d+)\.(\d+)", server_version)
    if is_lite(server_version) or match is None or (int(match[1]), int(match[2])) >= (2, 5):
        return None
    return f"Milvus {server_version} has no BM25 full-text search (needs Milvus >= 2.5 or Milvus Lite)"


def analyzer_problem(analyzer: dict[str, Any]) -> str | None:
    """What in ``analyzer`` Milvus Lite would reject or silently ignore, or None.

    Lite 3.2 tokenizes with ``standard`` (``\\w+``, lowercased) or ``jieba`` and
    applies stop-word lists; it has no stemmer and skips filters it does not know.
    """
    unknown = sorted(set(analyzer) - {"tokenizer", "type", "filter"})
    if unknown:
        return f"keys {unknown}"
    tokenizer = analyzer.get("tokenizer") or analyzer.get("type", "standard")
    name = tokenizer.get("type", "standard") if isinstance(tokenizer, dict) else tokenizer
    if name not in ("standard", "jieba"):
        return f"tokenizer {name!r} (Lite has 'standard' and 'jieba')"
    for item in analyzer.get("filter") or []:
        stop_list = isinstance(item, dict) and item.get("type") == "stop" and isinstance(item.get("stop_words"), list)
        if item != "lowercase" and not stop_list:
            return f"filter {item!r} (Lite applies only 'lowercase' and {{type: stop, stop_words: [...]}} lists)"
    return None
