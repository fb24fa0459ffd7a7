"""The ``rag`` command line.

User mistakes (bad config, missing file, unreachable server) exit with status
2 and one line naming the fix; no traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag_app.cli import answer, common, doctor, index, lite, logs, migrate, serve, ui
from rag_app.cli import eval as eval_cmd
from rag_app.cli.help import RagCommand, RagGroup

app = typer.Typer(
    cls=RagGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="rag_app: ask questions about your own documents.",
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also show progress details (INFO logs)")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only errors")] = False,
) -> None:
    """Ask questions about your own documents."""
    common.state["debug"] = debug
    logs.configure(verbose=verbose, debug=debug, quiet_mode=quiet)
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


app.command("ingest", cls=RagCommand)(index.ingest)
app.command("search", cls=RagCommand)(index.search)
app.command("stats", cls=RagCommand)(index.stats)
app.command("ask", cls=RagCommand)(answer.ask)
app.command("chat", cls=RagCommand)(answer.chat)
app.command("serve", cls=RagCommand)(serve.serve)
app.command("ui", cls=RagCommand)(ui.ui)
app.command("doctor", cls=RagCommand)(doctor.doctor)
app.command("migrate", cls=RagCommand)(migrate.migrate)
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(lite.app, name="lite")


def run() -> None:
    """Console-script entry point."""
    app()
