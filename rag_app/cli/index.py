"""``rag ingest``, ``rag search`` and ``rag stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit_json, load_pipeline, user_errors
from rag_app.types import Filter, IngestReport, ScoredChunk


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or directories to ingest")],
    config: ConfigOpt = DEFAULT_CONFIG,
    prune: Annotated[
        bool | None,
        typer.Option("--prune/--no-prune", help="remove chunks of files gone from these paths (default: config)"),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="drop the collection and ingest from scratch")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents incrementally: only new or changed files are embedded."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with user_errors():
        pipeline = load_pipeline(config)
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
        )
        with Progress(*columns, console=console, disable=as_json, transient=True) as bar:
            task = bar.add_task("ingesting", total=None, current="")

            def progress(done: int, total: int, current: str) -> None:
                bar.update(task, completed=done, total=total, current=current)

            try:
                report = pipeline.ingest(paths, prune=prune, rebuild=rebuild, progress=progress)
            finally:
                pipeline.close()
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_report(report)
    if report.files_failed:
        raise typer.Exit(1)


def _print_report(r: IngestReport) -> None:
    for err in r.errors:
        typer.echo(f"  failed: {err['error']}", err=True)
    typer.echo(
        f"files: {r.files_seen} seen, {r.files_new} new, {r.files_changed} changed, "
        f"{r.files_unchanged} unchanged, {r.files_removed} removed, {r.files_failed} failed\n"
        f"chunks: +{r.chunks_added} -{r.chunks_removed}; embeddings computed: {r.embeddings_computed}; "
        f"{r.seconds:.1f} s"
    )


def parse_filter(text: str) -> Filter:
    """``FIELD=VALUE``-style text (``!=``, ``>=``, ``<=``, ``>``, ``<`` too) as a structured Filter."""
    from rag_app.errors import InputError

    for op_text, op in (("!=", "ne"), (">=", "gte"), ("<=", "lte"), ("=", "eq"), (">", "gt"), ("<", "lt")):
        field, sep, value = text.partition(op_text)
        if sep and field:
            return Filter(field.strip(), op, value.strip())
    raise InputError(f"cannot parse filter {text!r}; use FIELD=VALUE, FIELD!=VALUE, FIELD>=VALUE ...")


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    config: ConfigOpt = DEFAULT_CONFIG,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", help="number of chunks (default: config)")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", metavar="<field=value>", help="metadata filter, e.g. format=pdf (repeatable)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the chunks most relevant to QUERY, with scores and where they come from."""
    with user_errors():
        pipeline = load_pipeline(config)
        filters = [parse_filter(w) for w in where or []]
        try:
            hits = pipeline.search(query, top_k=top_k, filters=filters)
        finally:
            pipeline.close()
    if as_json:
        emit_json([_hit_dict(i, h) for i, h in enumerate(hits, 1)])
        return
    if not hits:
        typer.echo("no matching chunks")
    for i, hit in enumerate(hits, 1):
        d = _hit_dict(i, hit)
        snippet = " ".join(hit.chunk.text.split())[:240]
        typer.echo(f"[{i}] {d['score']:.4f}  {d['location']}\n    {snippet}\n")


def location(hit: ScoredChunk) -> str:
    """Human-readable place of a chunk: file, page or section, char offsets."""
    from rag_app.generation.prompt import source_location

    meta = hit.chunk.metadata
    where = source_location(hit)
    if meta.get("start_char") is not None:
        where += f", chars {meta['start_char']}-{meta.get('end_char')}"
    return where


def _hit_dict(rank: int, hit: ScoredChunk) -> dict[str, object]:
    return {
        "rank": rank,
        "score": hit.score,
        "chunk_id": hit.chunk.chunk_id,
        "doc_id": hit.chunk.doc_id,
        "source": hit.chunk.source,
        "location": location(hit),
        "metadata": hit.chunk.metadata,
        "text": hit.chunk.text,
    }


def stats(config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """Collection size, fingerprint (embedder and chunker) and where its state lives."""
    from rag_app.readable import fingerprint_fields, store_location

    with user_errors():
        pipeline = load_pipeline(config)
        try:
            result = pipeline.stats()
        finally:
            pipeline.close()
    if as_json:
        emit_json(result.as_dict())
        return
    location = store_location(pipeline.config)
    rows = [("store", f"{result.store}, {location}" if location else result.store),
            ("documents", str(result.documents)), ("chunks", str(result.chunks))]  # fmt: skip
    if result.fingerprint:
        rows.extend(fingerprint_fields(result.fingerprint))
    else:
        rows.append(("fingerprint", "none yet (nothing ingested)"))
    rows.append(("manifest", result.manifest or "none yet"))
    width = max(len(label) for label, _ in rows) + 1
    for label, text in rows:
        typer.echo(f"{label + ':':<{width}} {text}")
