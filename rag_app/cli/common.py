"""Helpers shared by the ``rag`` sub-commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag_app.errors import RagError, one_line

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline

DEFAULT_CONFIG = Path("pipelines/local.yaml")
ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="RAG_CONFIG", help="pipeline YAML"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]

state: dict[str, bool] = {"debug": False}


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn RagErrors into one line on stderr and exit status 2 (tracebacks with --debug)."""
    try:
        yield
    except RagError as exc:
        if state["debug"]:
            raise
        typer.echo(f"error: {one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted; everything ingested so far is kept", err=True)
        raise typer.Exit(130) from None


def load_pipeline(config: Path) -> Pipeline:
    from rag_app.config import load_config
    from rag_app.pipeline import build_pipeline

    return build_pipeline(load_config(config))


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
