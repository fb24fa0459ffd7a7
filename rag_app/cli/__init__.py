"""The ``rag`` command line.

User mistakes (bad config, missing file, unreachable server) exit with status
2 and one line naming the fix; no traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag_app.cli import answer, common, doctor, index, migrate, serve, ui
from rag_app.cli import eval as eval_cmd

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="rag_app: ask questions about your own documents.",
)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
) -> None:
    """Ask questions about your own documents."""
    common.state["debug"] = debug
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    noisy_libraries = (
        "httpx", "urllib3", "sentence_transformers", "transformers", "filelock",
        "pymilvus", "milvus_lite", "faiss", "httpcore", "openai", "bm25s",
    )
    for noisy in noisy_libraries:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if not debug:  # pymilvus logs handled failures and Lite's harmless fallbacks with tracebacks;
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # our errors already say what failed
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not debug:  # model-loading progress bars would interleave with ours
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


app.command("ingest")(index.ingest)
app.command("search")(index.search)
app.command("stats")(index.stats)
app.command("ask")(answer.ask)
app.command("chat")(answer.chat)
app.command("serve")(serve.serve)
app.command("ui")(ui.ui)
app.command("doctor")(doctor.doctor)
app.command("migrate")(migrate.migrate)
app.add_typer(eval_cmd.app, name="eval")


def run() -> None:
    """Console-script entry point."""
    app()
