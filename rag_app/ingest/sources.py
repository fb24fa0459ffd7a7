"""Finding the files to ingest: directory walking with include/exclude globs."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag_app.config import SourcesConfig
from rag_app.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """A file found under an ingest root.

    ``source`` (the absolute POSIX path) is the identity used for doc ids;
    ``relpath`` (relative to the root given by the user) is what people see.
    """

    path: Path
    source: str
    relpath: str
    root: Path


def _matches(relpath: str, patterns: list[str]) -> bool:
    pure = PurePosixPath(relpath)
    for pattern in patterns:
        # "**/x" should also match "x" at the top level, as in .gitignore
        if pure.match(pattern) or fnmatch.fnmatch(relpath, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatch(relpath, pattern[3:]):
            return True
    return False


def discover(paths: list[Path], config: SourcesConfig) -> tuple[list[SourceFile], list[str]]:
    """Walk ``paths`` (files or directories) and return the files to ingest.

    Returns:
        The files (sorted, de-duplicated) and the roots they were found under
        (as absolute POSIX prefixes, used to scope pruning).

    Raises:
        InputError: if a given path does not exist.
    """
    found: dict[str, SourceFile] = {}
    roots: list[str] = []
    for given in paths:
        path = given.expanduser()
        if not path.exists():
            raise InputError(f"{given}: no such file or directory")
        path = path.resolve()
        if path.is_file():
            roots.append(path.as_posix())
            candidates = [(path, path.parent)]
        else:
            roots.append(path.as_posix().rstrip("/") + "/")
            candidates = [(p, path) for p in sorted(path.rglob("*")) if p.is_file()]
        for file, root in candidates:
            rel = file.relative_to(root).as_posix()
            explicit = file == path
            if not explicit and (
                not _matches(rel, config.include) or _matches(rel, config.exclude)
            ):
                continue
            if config.loader_for(file.suffix) is None:
                if explicit:
                    raise InputError(f"{given}: no loader for '{file.suffix}' files (see sources.loaders)")
                logger.debug("skipping %s: no loader for %s", rel, file.suffix)
                continue
            found.setdefault(file.as_posix(), SourceFile(file, file.as_posix(), rel, root))
    return sorted(found.values(), key=lambda s: s.source), roots


def under_roots(source: str, roots: list[str]) -> bool:
    """Whether a recorded source lies under one of this run's roots (pruning scope)."""
    return any(source == r or (r.endswith("/") and source.startswith(r)) for r in roots)
