"""``rag ui``: start the Streamlit app on this machine's loopback address."""

from __future__ import annotations

import importlib.util
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    browser: bool,
) -> list[str]:
    """The ``streamlit run`` command line for the app (absolute paths, so any cwd works)."""
    from rag_app.ui import APP

    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "false" if browser else "true",
        "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max(1, math.ceil(max_upload_mb))),
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "type",
        "--client.toolbarMode", "minimal",
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
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="open a browser tab on start")] = True,
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
            browser=browser,
        )
    logger.info("starting the UI on http://%s:%d (Ctrl+C stops it)", host, port)
    try:
        code = subprocess.call(command)
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)
