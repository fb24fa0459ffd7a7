"""Opening and releasing Milvus Lite ``.db`` files from pymilvus.

pymilvus starts one in-process Milvus Lite gRPC server per ``.db`` path and
keeps it (and the file's exclusive ``flock``) until the interpreter exits;
``MilvusClient.close()`` does not release it. We count the stores using each
path and stop its server when the last one closes, so the file can be opened
again (by this process or another) after ``close()``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from rag_app.errors import BackendError

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_users: dict[str, int] = {}


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
    with _lock:
        try:
            client = client_factory(key)
        except Exception as exc:
            if _locked_elsewhere(path):
                raise BackendError(
                    f"Milvus Lite file {path} is open in another process (DataDirLockedError); "
                    f"close that process, or run `milvus-lite server --data-dir {path} --host 127.0.0.1` "
                    "and set the store uri to http://127.0.0.1:19530"
                ) from exc
            raise BackendError(f"cannot open Milvus Lite file {path}: {error_message(exc)}") from exc
        _users[key] = _users.get(key, 0) + 1
    return client


def release(path: Path) -> None:
    """One user of ``path`` is done; stop its Lite server when it was the last."""
    key = os.path.abspath(path)
    with _lock:
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
    lock_file = path / "LOCK"
    if not lock_file.exists():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: cannot probe, assume not
        return False
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def error_message(exc: BaseException) -> str:
    """The first line of a pymilvus error's own message (not its ``<MilvusException ...>`` repr)."""
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
