"""``rag migrate``: copy an index between store backends without re-embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag_app.cli.common import JsonOpt, emit_json, load_pipeline, user_errors


def migrate(
    source: Annotated[Path, typer.Option("--from", help="pipeline YAML whose store is copied")],
    target: Annotated[Path, typer.Option("--to", help="pipeline YAML whose store receives the copy")],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="chunks read and written per batch")] = 256,
    sample: Annotated[int, typer.Option("--sample", min=0, help="stored vectors re-run as verification queries")] = 20,
    replace: Annotated[bool, typer.Option("--replace", help="drop a non-empty target before copying")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy vectors, chunks and the sync manifest from one store to another, then verify the copy."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rag_app.migrate import migrate as run_migration

    console = Console(stderr=True)
    with user_errors():
        src = load_pipeline(source)
        dst = load_pipeline(target)
        try:
            columns = (TextColumn("migrating"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=console, disable=as_json, transient=True) as bar:
                task = bar.add_task("migrating", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total or None)

                report = run_migration(
                    src, dst, batch_size=batch_size, sample=sample, replace=replace, progress=progress
                )
        finally:
            src.close()
            dst.close()
    if as_json:
        emit_json(report.as_dict())
    else:
        typer.echo(
            f"copied {report.chunks_copied} chunks: {report.source} -> {report.target} in {report.seconds:.1f} s\n"
            f"counts: source {report.source_count}, target {report.target_count}\n"
            f"manifest: {report.manifest or 'none (next ingest re-embeds)'}\n"
            f"verification: {report.sampled - len(report.sample_mismatches)}/{report.sampled} sampled queries "
            "returned the same top ids"
        )
        for problem in report.sample_mismatches:
            typer.echo(f"  mismatch: {problem}", err=True)
    if not report.ok:
        typer.echo("error: the copy does not match the source (see above)", err=True)
        raise typer.Exit(1)
