"""Building test pipelines from other pipelines."""

from __future__ import annotations

from typing import Any

from rag_app.pipeline import Pipeline


def replaced(base: Pipeline, **components: Any) -> Pipeline:
    """``base`` (same config, store and models) with some components swapped, e.g. ``generator=``."""
    parts: dict[str, Any] = {
        "chunker": base.chunker,
        "embedder": base.embedder,
        "store": base.store,
        "retrievers": base.retrievers,
        "template": base.template,
        "generator": base.generator,
        "reranker": base.reranker,
        "query_transform": base.query_transform,
        "mmr": base.mmr,
    }
    parts.update(components)
    return Pipeline(base.config, **parts)
