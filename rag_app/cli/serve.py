"""``rag serve``: the OpenAI-compatible HTTP API.

SIGTERM or Ctrl+C stops it: requests in flight get ``_SHUTDOWN_GRACE_S`` seconds
to finish (an answer still streaming after that is cancelled, which stops its
generation), then the app's shutdown closes the pipeline, releasing the store
and its lock, before uvicorn ends the process with the signal it received.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, load_pipeline, user_errors
from rag_app.errors import ConfigError

_SHUTDOWN_GRACE_S = 5


def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="bind address (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    token_env: Annotated[
        str, typer.Option(help="env var holding the bearer token that requests must send, if set")
    ] = "RAG_API_TOKEN",
) -> None:
    """Serve the pipeline as an OpenAI-compatible API (/v1/chat/completions, /v1/models, /v1/embeddings)."""
    with user_errors():
        try:
            import uvicorn

            from rag_app.server.app import create_app
        except ImportError as exc:
            raise ConfigError("rag serve needs the server extra: pip install 'rag-app[server]'") from exc
        pipeline = load_pipeline(config)
        token = os.environ.get(token_env) or None
        if host not in ("127.0.0.1", "localhost", "::1") and token is None:
            typer.echo(f"warning: serving on {host} without a token; set ${token_env}", err=True)
        typer.echo(f"serving model {pipeline.config.name!r} on http://{host}:{port}/v1", err=True)
        try:
            uvicorn.run(
                create_app(pipeline, token=token, close_pipeline=True), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=_SHUTDOWN_GRACE_S,
            )  # fmt: skip
        finally:
            pipeline.close()
