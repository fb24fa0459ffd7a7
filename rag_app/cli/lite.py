"""``rag lite status | stop``: the shared Milvus Lite server of a config's local ``.db``.

The first ``rag`` process that opens a local Milvus Lite index starts one
server for it on 127.0.0.1 (see ``rag_app.backends.stores.milvus.lite_server``);
the UI, ``rag serve`` and every CLI command then share it. It stops by itself
a while after the last of them exits; ``rag lite stop`` stops it now.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit_json, user_errors
from rag_app.cli.help import RagCommand, RagGroup

app = typer.Typer(cls=RagGroup, no_args_is_help=True, help="The shared local Milvus Lite server.")


def _lite_path(config: Path) -> Path:
    from rag_app.config import load_config
    from rag_app.errors import ConfigError

    cfg = load_config(config)
    uri = str(cfg.store.params.get("uri", "milvus.db")) if cfg.store.type == "milvus" else ""
    if not uri or uri.startswith(("http://", "https://")):
        raise ConfigError(
            f"{config}: the store is not a local Milvus Lite file (type {cfg.store.type}, uri {uri or '-'})"
        )
    return cfg.resolve_path(uri)


@app.command("status", cls=RagCommand)
def status(config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """Whether the shared server of the config's index runs, on which port, for how many processes."""
    from rag_app.backends.stores.milvus import lite_server as _lite_server

    with user_errors():
        path = _lite_path(config)
        info = _lite_server.running(path)
    if as_json:
        emit_json({"data_dir": str(path), "running": info is not None,
                   **({"pid": info.pid, "uri": info.uri, "clients": info.clients} if info else {})})  # fmt: skip
        return
    if info is None:
        typer.echo(f"no shared Milvus Lite server runs for {path} (the next rag command starts one)")
    else:
        typer.echo(f"serving {path} at {info.uri} (pid {info.pid}, {info.clients} process(es) using it)")


@app.command("stop", cls=RagCommand)
def stop(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Stop the shared server of the config's index now (processes still using it lose their connection)."""
    from rag_app.backends.stores.milvus import lite_server as _lite_server

    with user_errors():
        path = _lite_path(config)
        info = _lite_server.stop(path)
    typer.echo(f"stopped the server of {path} (pid {info.pid})" if info else f"no server runs for {path}")
