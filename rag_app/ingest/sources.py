"""Finding the files to ingest: directory walking with include/exclude globs.

Every file is identified by its real path (symbolic links resolved), and
nothing whose real path lies outside the paths given to the run is read: a
link out of the ingested folders (``notes/passwd.txt -> /etc/passwd``) is
refused with one line in the ingest report, whatever ``sources.follow_symlinks``
says. Links that stay inside are followed when ``follow_symlinks`` is true
(the default), each file once; loops and broken links are refused, not walked.
A path named on the command line is the user's own choice: it is resolved,
and that real path becomes a root.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path, PosixPath, PurePosixPath, WindowsPath

from rag_app.config import SourcesConfig
from rag_app.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """A file found under an ingest root.

    ``source`` (the absolute POSIX real path) is the identity used for doc ids;
    ``relpath`` (relative to the root given by the user) is what people see.
    """

    path: Path
    source: str
    relpath: str
    root: Path


_ConcretePath = WindowsPath if os.name == "nt" else PosixPath


class PrefetchedPath(_ConcretePath):  # type: ignore[misc,valid-type]
    """A path whose bytes were already read (to hash them): ``read_bytes`` returns those.

    Loaders take a path and read it themselves; handing them this one lets the
    ingest runner read each file exactly once. Paths derived from it
    (``parent``, ``with_suffix`` ...) are plain paths again and read from disk.
    """

    _data: bytes | None = None

    @classmethod
    def holding(cls, path: Path, data: bytes) -> PrefetchedPath:
        out = cls(path)
        out._data = data
        return out

    def read_bytes(self) -> bytes:
        data = self._data
        return data if data is not None else super().read_bytes()


@dataclass(frozen=True)
class Refused:
    """An entry that was not ingested, and the one-line reason (``relpath: why``)."""

    relpath: str
    message: str


@dataclass
class Discovery:
    """What :func:`discover` found: files to ingest, the roots (pruning scope), refused entries."""

    files: list[SourceFile] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def _matches(relpath: str, patterns: list[str]) -> bool:
    pure = PurePosixPath(relpath)
    for pattern in patterns:
        # "**/x" should also match "x" at the top level, as in .gitignore
        if pure.match(pattern) or fnmatch.fnmatch(relpath, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatch(relpath, pattern[3:]):
            return True
    return False


class _Walk:
    """One discovery run over resolved roots."""

    def __init__(self, config: SourcesConfig, dirs: list[Path], files: list[Path]) -> None:
        self.config = config
        self.dirs = dirs
        self.file_roots = set(files)
        self.out = Discovery()
        self.found: dict[str, SourceFile] = {}
        self.walked: set[Path] = set()

    def wanted(self, relpath: str) -> bool:
        return _matches(relpath, self.config.include) and not _matches(relpath, self.config.exclude)

    def root_of(self, real: Path) -> Path | None:
        """The directory root ``real`` lies in (None: outside every root)."""
        for root in self.dirs:
            if real == root or real.is_relative_to(root):
                return root
        return None

    def refuse(self, relpath: str, why: str) -> None:
        self.out.refused.append(Refused(relpath, f"{relpath}: {why}"))

    def add(self, real: Path, relpath: str, root: Path) -> None:
        if self.config.loader_for(real.suffix) is None:
            logger.debug("skipping %s: no loader for %s", relpath, real.suffix)
            return
        self.found.setdefault(real.as_posix(), SourceFile(real, real.as_posix(), relpath, root))

    def add_file(self, here: Path, real_here: Path, name: str, rel: str, fallback: Path) -> None:
        """A plain file met while walking (``here`` differs from ``real_here`` inside a followed link)."""
        if not self.wanted(rel):
            return
        real = real_here / name
        root = self.root_of(real_here) or fallback
        if here != real_here and not self.wanted(real.relative_to(root).as_posix()):
            return  # reached through a link, but excluded where it really lives
        self.add(real, rel, root)

    def walk(self, root: Path) -> None:
        stack: list[tuple[Path, Path, str]] = [(root, root, "")]  # (path walked, its real path, relpath prefix)
        while stack:
            here, real_here, prefix = stack.pop()
            if real_here in self.walked:
                continue
            self.walked.add(real_here)
            try:
                entries = sorted(os.scandir(here), key=lambda e: e.name, reverse=True)
            except OSError as exc:
                self.refuse(prefix.rstrip("/") or ".", f"cannot list this folder ({exc.strerror})")
                continue
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    self.link(Path(entry.path), rel, real_here, stack)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), real_here / entry.name, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    self.add_file(here, real_here, entry.name, rel, root)

    def link(self, link: Path, rel: str, real_parent: Path, stack: list[tuple[Path, Path, str]]) -> None:
        try:
            target = link.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # RuntimeError: Python < 3.13 on a link loop
            if self.wanted(rel) and self.config.loader_for(link.suffix) is not None:
                looped = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
                self.refuse(rel, "symbolic link loop; refused" if looped else "broken symbolic link; refused")
            return
        is_dir = target.is_dir()
        loadable = any(self.config.loader_for(p.suffix) is not None for p in (link, target))
        if not self.wanted(rel) or (not is_dir and not loadable):
            return  # excluded or unloadable anyway: nothing to say
        root = self.root_of(target)
        if root is None and target not in self.file_roots:
            self.refuse(rel, "symbolic link to a location outside the folder(s) being ingested; refused")
        elif not self.config.follow_symlinks:
            self.refuse(rel, "symbolic link not followed (sources.follow_symlinks is false)")
        elif is_dir and (real_parent == target or real_parent.is_relative_to(target)):
            self.refuse(rel, "symbolic link loop (points back at a folder it is inside); refused")
        elif is_dir:
            stack.append((link, target, rel + "/"))
        elif root is not None and not self.wanted(target.relative_to(root).as_posix()):
            self.refuse(rel, "symbolic link to an excluded file (sources.exclude); refused")
        elif root is not None:
            self.add(target, rel, root)


def discover(paths: list[Path], config: SourcesConfig) -> Discovery:
    """Walk ``paths`` (files or directories) and return the files to ingest.

    Returns:
        The files (sorted by real path, each once), the roots they were found
        under (absolute POSIX prefixes, used to scope pruning), and the entries
        refused (links out of the roots, loops, broken links), one line each.

    Raises:
        InputError: a given path does not exist, or a given file has no loader.
    """
    resolved: list[tuple[Path, Path]] = []
    for given in paths:
        path = given.expanduser()
        if not path.exists():
            what = "broken symbolic link" if path.is_symlink() else "no such file or directory"
            raise InputError(f"{given}: {what}")
        resolved.append((given, path.resolve()))
    dirs = [real for _, real in resolved if real.is_dir()]
    run = _Walk(config, dirs, [real for _, real in resolved if not real.is_dir()])
    for given, real in resolved:
        if real.is_dir():
            run.out.roots.append(real.as_posix().rstrip("/") + "/")
            run.walk(real)
        else:
            if config.loader_for(real.suffix) is None:
                raise InputError(f"{given}: no loader for '{real.suffix}' files (see sources.loaders)")
            run.out.roots.append(real.as_posix())
            run.add(real, real.name, real.parent)
    run.out.files = sorted(run.found.values(), key=lambda s: s.source)
    return run.out


def under_roots(source: str, roots: list[str]) -> bool:
    """Whether a recorded source lies under one of this run's roots (pruning scope)."""
    return any(source == r or (r.endswith("/") and source.startswith(r)) for r in roots)
