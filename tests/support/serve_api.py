"""Fixtures for the `rag serve` API tests: a pipeline over the test docs, the app on a port, an `openai` client.

Registered as a plugin in ``tests/conftest.py``; the optional packages are imported
when a fixture is used, so a missing one skips only the tests that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_app.config import PipelineConfig
from rag_app.pipeline import Pipeline, build_pipeline

TOKEN = "serve-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api_pipeline(make_config: Callable[..., PipelineConfig], docs_dir: Path) -> Pipeline:
    """The test docs ingested on the extractive generator, with a floor low enough to always answer."""
    p = build_pipeline(make_config(generator={"type": "extractive"}, answer={"min_score": 0.05}))
    p.ingest([docs_dir])
    return p


@pytest.fixture
def api_server(api_pipeline: Pipeline) -> Iterator[Any]:
    """``rag serve``'s app over ``api_pipeline`` on a free local port, with ``TOKEN`` required."""
    pytest.importorskip("fastapi")
    from rag_app.server.app import create_app
    from tests.support.asgi_server import ThreadedServer

    with ThreadedServer(create_app(api_pipeline, token=TOKEN)) as running:
        yield running


@pytest.fixture
def api_client(api_server: Any) -> Any:
    """The official ``openai`` client pointed at ``api_server``, no retries."""
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{api_server.url}/v1", api_key=TOKEN, max_retries=0, timeout=30)
