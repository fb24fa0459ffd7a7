"""One writer per collection across processes: ``rag ingest`` in a terminal and an upload in the UI take turns.

The lock is an ``flock`` on ``<manifest>.lock`` (released by the kernel if the
holder dies). Where ``fcntl`` is missing (Windows) there is no lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


@contextmanager
def writer_lock(manifest_path: Path) -> Iterator[None]:
    """Hold the collection's writer lock, waiting (with one log line) while another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{manifest_path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            logger.warning("another process is ingesting into this collection; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
