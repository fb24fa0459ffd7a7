"""Files replaced whole or not at all: a temp file beside the target, then one ``os.replace``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any


class AtomicFile:
    """``with AtomicFile(target) as fh:`` puts what is written to ``fh`` at ``target`` in one rename.

    A reader sees the old ``target`` or the whole new file, never part of it. The
    temp file ``<prefix><random><suffix>`` is created in ``target``'s folder when
    the object is made (so an unwritable folder fails there, before the block);
    the default prefix ``.<target name>.`` lets a cleaner recognise leftovers. If
    the block raises, the temp file is removed and ``target`` is left as it was.

    Args:
        binary: open the temp file for bytes (default: UTF-8 text).
        fsync: flush the data to disk before the rename (survives a power cut).
        file_mode: permissions given to the file; None keeps the temp file's
            owner-only ``0o600``.
    """

    def __init__(
        self,
        target: Path,
        *,
        binary: bool = False,
        prefix: str | None = None,
        suffix: str = ".tmp",
        fsync: bool = False,
        file_mode: int | None = None,
    ) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}." if prefix is None else prefix, suffix=suffix, dir=target.parent
        )
        self.path = Path(name)
        self._handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
        self._fsync = fsync
        self._file_mode = file_mode

    def __enter__(self) -> IO[Any]:
        return self._handle

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            self._handle.close()
            self.path.unlink(missing_ok=True)

    def _commit(self) -> None:
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self._handle.close()
        if self._file_mode is not None:
            self.path.chmod(self._file_mode)
        os.replace(self.path, self.target)
