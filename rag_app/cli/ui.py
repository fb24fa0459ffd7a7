"""``rag ui``: start the Streamlit app on this machine's loopback address, unattended.

Streamlit runs headless: no first-run "Email:" prompt, no usage-statistics
notice, no browser opened by Streamlit, no promotional toast in the page. ``rag
ui`` prints the URL and, with ``--browser`` on a desktop, opens it once the
server answers its health check.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag_app.cli import app_process
from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, user_errors

logger = logging.getLogger(__name__)


def streamlit_command(
    config: Path,
    *,
    host: str,
    port: int,
    uploads_dir: Path,
    reports_dir: Path,
    max_upload_mb: float,
    browser: bool = False,
    log_level: str = "warning",
) -> list[str]:
    """The ``streamlit run`` command line for the app (absolute paths, so any cwd works).

    The server is always headless (``browser`` is accepted for callers and changes
    nothing here: ``rag ui`` opens the browser itself once the server answers).
    Headless mode is what turns off Streamlit's first-run email prompt, its
    "skills" toast in the page and the browser it would open; ``showEmailPrompt``
    and ``gatherUsageStats`` are set as well so neither a prompt nor the
    usage-statistics notice can come back.
    """
    from rag_app.ui import APP

    del browser
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.showEmailPrompt", "false",
        "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max(1, math.ceil(max_upload_mb))),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "type",
        "--client.toolbarMode", "minimal",
        "--logger.level", log_level,
        "--",
        "--config", str(config.resolve()),
        "--uploads-dir", str(uploads_dir.resolve()),
        "--reports-dir", str(reports_dir.resolve()),
        "--max-upload-mb", str(max_upload_mb),
    ]  # fmt: skip


def ui(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option("--host", help="address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="port to listen on")] = 8501,
    uploads_dir: Annotated[
        Path, typer.Option("--uploads-dir", envvar="RAG_UPLOADS_DIR", help="where uploaded files are stored")
    ] = Path("data/uploads"),
    reports_dir: Annotated[
        Path, typer.Option("--reports-dir", envvar="RAG_REPORTS_DIR", help="eval reports to show")
    ] = Path("eval/reports"),
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", min=0.01, help="largest file accepted (and the config's max_file_mb)")
    ] = 50.0,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="open a browser tab once the UI is up (desktops only)")
    ] = True,
) -> None:
    """Chat with your documents in the browser: cited answers, uploads, eval reports."""
    with user_errors():
        from rag_app.config import load_config
        from rag_app.errors import MissingDependencyError

        if importlib.util.find_spec("streamlit") is None:
            raise MissingDependencyError("streamlit", "ui", "rag ui")
        load_config(config)  # a bad config fails here, in one line, not later in the browser
        command = streamlit_command(
            config,
            host=host,
            port=port,
            uploads_dir=uploads_dir,
            reports_dir=reports_dir,
            max_upload_mb=max_upload_mb,
            log_level=_streamlit_log_level(),
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # a wildcard bind is browsed on loopback
    url = f"http://{shown}:{port}"
    typer.echo(f"starting the chat UI on {url} (Ctrl+C stops it)", err=True)

    def ready() -> None:
        opened = browser and app_process.open_browser(url)
        typer.echo(f"chat UI ready on {url}" + (" (opened in your browser)" if opened else ""), err=True)

    try:
        code = app_process.run_server(command, health_url=f"{url}/_stcore/health", on_ready=ready)
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


def _streamlit_log_level() -> str:
    """Streamlit's own log level follows ``rag --verbose`` / ``--debug`` (warnings only by default)."""
    level = logging.getLogger("rag_app").getEffectiveLevel()
    return "debug" if level <= logging.DEBUG else "info" if level <= logging.INFO else "warning"
