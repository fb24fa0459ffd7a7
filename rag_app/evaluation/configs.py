"""Pipeline configs for evaluation: suite overrides, config hashes and isolated collections.

Each (corpus, pipeline) pair is ingested into its own collection under the
eval cache folder, keyed by a hash of what was ingested (a files corpus: the
folder's digest, shared by retrieval and answer suites over it; BEIR: the
dataset's digest) and everything in the config that changes what gets stored
(loaders, chunker, embedder, store kind and metric). A second run with the same
key finds the collection and its sync manifest and embeds nothing; the user's
own collection is never touched (each store says how to isolate a copy: a file
under the cache folder, an ``eval_<key>`` Milvus collection or Pinecone namespace).
Retrievers with their own index (BM25) and the generator are not part of the
key: the pipeline backfills such an index from the stored chunks, so a hybrid
pipeline reuses the collection its dense-only sibling built.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag_app import store_identity
from rag_app.config import PipelineConfig, load_config, parse_config
from rag_app.evaluation.suite import PipelineBase, SuiteBase

# Embedder params that change speed, not the vectors (not in the cache key). Store params
# declare their own runtime/location split (``rag_app.store_identity``).
_EMBEDDER_RUNTIME_PARAMS = ("batch_size", "threads", "device", "timeout_s", "token_env")


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` recursively (mappings merge, anything else replaces).

    A component override that changes ``type`` replaces the whole component, since
    the params of one backend mean nothing to another.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            if "type" in value and old.get("type") != value["type"]:
                out[key] = copy.deepcopy(dict(value))
            else:
                out[key] = deep_merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_pipeline(suite: SuiteBase, spec: PipelineBase) -> PipelineConfig:
    """Load the spec's pipeline YAML and apply its overrides (validated like any config)."""
    path = suite.resolve(spec.config)
    base = load_config(path)
    data = deep_merge(base.model_dump(exclude={"base_dir"}), spec.overrides)
    return parse_config(data, base_dir=base.base_dir, origin=f"{path} (suite pipeline {spec.label!r})")


def config_dict(config: PipelineConfig) -> dict[str, Any]:
    """The config as plain JSON-able data (what reports record)."""
    data: dict[str, Any] = json.loads(config.model_dump_json(exclude={"base_dir"}))
    return data


def config_hash(config: PipelineConfig) -> str:
    """sha256 of the whole resolved config (reported so runs can be told apart)."""
    return _digest(config_dict(config))


def cache_key(config: PipelineConfig, dataset_checksum: str) -> str:
    """What decides whether an ingested eval collection can be reused."""
    data = config_dict(config)
    store_params = store_identity.stored_params(config)
    embedder_params = {k: v for k, v in data["embedder"]["params"].items() if k not in _EMBEDDER_RUNTIME_PARAMS}
    key = {
        "dataset": dataset_checksum,
        "sources": data["sources"],
        "chunker": data["chunker"],
        "embedder": {"type": data["embedder"]["type"], "params": embedder_params},
        "store": {"type": data["store"]["type"], "params": store_params},
    }
    return _digest(key)[:16]


def cache_entry(cache_dir: Path, name: str, config: PipelineConfig, checksum: str) -> tuple[str, Path]:
    """The cache key and folder (``<cache_dir>/<name>-<key>``) of one pipeline's collection.

    ``name`` and ``checksum`` say what was ingested: for a folder of files, the corpus
    folder's name and content digest, so every suite over that folder (retrieval or
    answers) shares one collection per stored-content configuration.
    """
    key = cache_key(config, checksum)
    return key, (cache_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}-{key}").resolve()


def isolate(config: PipelineConfig, folder: Path, key: str) -> PipelineConfig:
    """A copy of ``config`` whose store and sync manifest live in ``folder`` (the cache entry)."""
    data = config_dict(config)
    data["store"]["params"] = store_identity.isolated_params(config, folder, key)
    data["ingest"]["state_dir"] = str(folder / "state")
    return parse_config(data, base_dir=config.base_dir, origin=f"eval copy of {config.name}")


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
