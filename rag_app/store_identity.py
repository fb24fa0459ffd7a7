"""Which collection a config's store points at: one answer for every caller.

Each store backend declares which of its params say *where* its collection
lives (``location_params``, resolved by its ``location()`` classmethod) and
which only change how it is reached or searched (``runtime_params``: timeouts,
batch sizes, search params ...). From that one declaration this module serves:

* the sync manifest and secondary-index paths (:func:`state_path`): keyed on
  the location only, so changing ``timeout_s`` keeps the same manifest;
* the UI's pipeline pool (:func:`location_key`): two configs over one location
  are never open at once;
* eval caches: the params that decide whether an ingested collection can be
  reused (:func:`stored_params`) and a private copy of the store
  (:func:`isolated_params`).

State files written before this module keyed on *all* store params; the
first pipeline to open such a location renames them (:func:`adopt_legacy_state`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag_app import registry
from rag_app.config import PipelineConfig
from rag_app.errors import BackendError

logger = logging.getLogger(__name__)

_PLACEHOLDER = "<isolated>"


def store_class(config: PipelineConfig) -> type[Any]:
    """The store backend class the config selects (imported on demand)."""
    return registry.resolve("store", config.store.type)


def location(config: PipelineConfig) -> dict[str, object]:
    """Where the config's collection lives: store type plus its resolved location params."""
    cls = store_class(config)
    params = registry.validate_params("store", config.store.type, config.store.params)
    where: dict[str, object] = cls.location(params, base_dir=config.base_dir)
    return {"type": config.store.type, **where}


def location_key(config: PipelineConfig) -> str:
    """:func:`location` as a canonical string (equal strings: the same collection)."""
    return json.dumps(location(config), sort_keys=True, default=str)


def state_path(config: PipelineConfig, kind: str, suffix: str) -> Path:
    """Where per-collection state (``kind``: manifest, a retriever's index) lives: keyed by location."""
    digest = hashlib.sha256(location_key(config).encode()).hexdigest()[:12]
    return config.resolve_path(config.ingest.state_dir) / f"{kind}-{config.store.type}-{digest}{suffix}"


def legacy_state_path(config: PipelineConfig, kind: str, suffix: str) -> Path:
    """The path older versions used: keyed on *every* store param as written, plus the config folder."""
    store = config.store
    key = json.dumps(
        {"type": store.type, "params": store.params, "base": str(config.base_dir)}, sort_keys=True, default=str
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return config.resolve_path(config.ingest.state_dir) / f"{kind}-{store.type}-{digest}{suffix}"


def adopt_legacy_state(config: PipelineConfig, kinds: Iterable[tuple[str, str]]) -> list[Path]:
    """Rename state written under :func:`legacy_state_path` to :func:`state_path` (once; never overwrites).

    Args:
        kinds: ``(kind, suffix)`` pairs, e.g. ``("manifest", ".json")``, ``("bm25", "")``.

    Returns:
        The paths that were adopted.
    """
    adopted = []
    for kind, suffix in kinds:
        old, new = legacy_state_path(config, kind, suffix), state_path(config, kind, suffix)
        if old == new or not old.exists():
            continue
        if new.exists():
            logger.info("keeping %s; the older %s for the same store is left untouched", new, old)
            continue
        try:
            os.replace(old, new)
        except FileNotFoundError:  # another process adopted it first
            continue
        except OSError as exc:
            raise BackendError(f"cannot rename {old} to {new} ({exc.strerror}); rename it by hand") from exc
        logger.info("adopted %s as %s (state is now keyed by the store location only)", old.name, new.name)
        adopted.append(new)
    return adopted


def isolated_params(config: PipelineConfig, folder: Path, name: str) -> dict[str, Any]:
    """Store params for a private copy of the collection (an eval cache entry under ``folder``)."""
    params: dict[str, Any] = store_class(config).isolated(dict(config.store.params), folder, name)
    return params


def stored_params(config: PipelineConfig) -> dict[str, Any]:
    """The store params (as written) that change what an isolated copy holds.

    Left out: the params :func:`isolated_params` replaces (where the copy lives)
    and the store's ``runtime_params``.
    """
    cls = store_class(config)
    written = dict(config.store.params)
    isolated = cls.isolated(written, Path(_PLACEHOLDER), _PLACEHOLDER)
    replaced = {k for k, v in isolated.items() if written.get(k) != v}
    runtime = set(cls.runtime_params)
    return {k: v for k, v in written.items() if k not in replaced and k not in runtime}
