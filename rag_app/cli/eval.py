"""``rag eval SUITE``, ``rag eval compare A B`` and ``rag eval generate``.

``rag eval SUITE`` is short for ``rag eval run SUITE``; SUITE may be a retrieval
suite, an answer suite (``dataset: {type: answers}``) or a study. Every gate prints
one ``PASS``/``FAIL`` line after the summary. Exit status: 0 when every gate passes,
1 when one fails (each failure also on stderr as ``gate failed: ...``), 2 for user
errors (bad suite, missing dataset) with one line naming the fix.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit_json, load_pipeline, user_errors
from rag_app.cli.help import RagCommand, RagGroup


class _DefaultRunGroup(RagGroup):
    """Routes ``rag eval SUITE ...`` to ``rag eval run SUITE ...``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_DefaultRunGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Evaluate pipelines on a suite (rag eval SUITE), compare two reports (rag eval compare A B), "
    "or write a synthetic question set from what a pipeline ingested (rag eval generate).",
)

ReportsOpt = Annotated[
    Path,
    typer.Option("--reports-dir", envvar="RAG_EVAL_REPORTS", help="where report folders are written"),
]
CacheOpt = Annotated[
    Path,
    typer.Option("--cache-dir", envvar="RAG_EVAL_CACHE", help="isolated, reusable eval collections"),
]


@app.command("run", cls=RagCommand)
def run(
    suite: Annotated[Path, typer.Argument(help="suite YAML, e.g. eval/suites/scifact.yaml")],
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            metavar="<metric=value>",
            help="gate for a higher-is-better metric, e.g. ndcg@10=0.6 (repeatable)",
        ),
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-over",
            metavar="<metric=value>",
            help="gate for a lower-is-better answer metric, e.g. ttft_p50_s=4 (repeatable)",
        ),
    ] = None,
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", metavar="<label>", help="only the pipeline with this label (repeatable)"),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="only the first N judged queries / questions")
    ] = None,
    reports_dir: ReportsOpt = Path("eval/reports"),
    cache_dir: CacheOpt = Path("eval/.cache"),
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="draw the report's PNG plots")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run every pipeline of SUITE, write eval/reports/<UTC time>-<suite>/, and check gates.

    SUITE may also be a study (a YAML file with a suites: list): each suite runs and one summary is written.
    """
    from rag_app.evaluation.gates import parse_gate_args
    from rag_app.evaluation.harness import run_eval
    from rag_app.evaluation.study import is_study

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with user_errors():
        under = parse_gate_args(fail_under or [], "--fail-under")
        over = parse_gate_args(fail_over or [], "--fail-over")
        if is_study(suite):
            _run_study(suite, (under, over), pipeline or [], limit, reports_dir, cache_dir, plots, as_json)
            return
        result = run_eval(
            suite,
            reports_dir=reports_dir,
            cache_dir=cache_dir,
            fail_under=under,
            fail_over=over,
            labels=pipeline or [],
            limit=limit,
            command=_command_line(),
            plots=plots,
        )
    if as_json:
        emit_json(
            {
                "report": str(result.report_dir),
                "pipelines": {k: v["metrics"] for k, v in result.data["pipelines"].items()},
                "gates": result.data["gates"],
            }
        )
    else:
        _print_summary(result.data)
        for gate in result.gates:
            typer.echo(gate.line())
        typer.echo(f"report: {result.report_dir / 'report.html'}")
    for gate in result.failed_gates:
        typer.echo(f"gate failed: {gate.line()}", err=True)
    if result.failed_gates:
        raise typer.Exit(1)


def _run_study(
    path: Path,
    gates: tuple[dict[str, float], dict[str, float]],
    labels: list[str],
    limit: int | None,
    reports_dir: Path,
    cache_dir: Path,
    plots: bool,
    as_json: bool,
) -> None:
    from rag_app.evaluation.study import format_summary, run_study

    folder, data, _ = run_study(
        path,
        reports_dir=reports_dir,
        cache_dir=cache_dir,
        fail_under=gates[0],
        fail_over=gates[1],
        labels=labels,
        limit=limit,
        command=_command_line(),
        plots=plots,
    )
    if as_json:
        emit_json({"summary": str(folder), "rows": data["rows"], "gates_failed": data["gates_failed"]})
    else:
        typer.echo(format_summary(data))
        typer.echo(f"summary: {folder / 'summary.html'}")
    for line in data["gates_failed"]:
        typer.echo(f"gate failed: {line}", err=True)
    if data["gates_failed"]:
        raise typer.Exit(1)


@app.command("compare", cls=RagCommand)
def compare(
    a: Annotated[Path, typer.Argument(help="baseline report folder (eval/reports/...)")],
    b: Annotated[Path, typer.Argument(help="candidate report folder")],
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="randomization test resamples")] = 10000,
    seed: Annotated[int, typer.Option("--seed", help="seed of the randomization test")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Per-metric deltas (B - A) for pipelines in both reports, with paired significance tests."""
    from rag_app.evaluation.compare import compare_reports, format_comparison

    with user_errors():
        result = compare_reports(a, b, resamples=resamples, seed=seed)
    if as_json:
        emit_json(result.as_dict())
    else:
        typer.echo(format_comparison(result))


@app.command("generate", cls=RagCommand)
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset folder to write, e.g. eval/datasets/my-synthetic")],
    config: ConfigOpt = DEFAULT_CONFIG,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="questions to keep")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="seed of the chunk sampling")] = 0,
    per_document: Annotated[int, typer.Option("--per-document", min=1, help="at most N questions per document")] = 2,
    min_chunk_tokens: Annotated[
        int, typer.Option("--min-chunk-tokens", min=1, help="skip chunks shorter than this (generator tokens)")
    ] = 40,
    check_retrieval: Annotated[
        bool,
        typer.Option(
            "--check-retrieval/--no-check-retrieval",
            help="keep a question only if the pipeline's own top-k retrieves its source document",
        ),
    ] = True,
    template: Annotated[
        Path | None, typer.Option("--template", help="question prompt template file ({passage}, {location})")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace a dataset already in --out")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic gold set (queries.jsonl, qrels/test.tsv) for a files suite over the ingested corpus."""
    from rag_app.evaluation.synthetic import GenerateOptions, generate_synthetic

    options = GenerateOptions(
        n=n,
        seed=seed,
        per_document=per_document,
        min_chunk_tokens=min_chunk_tokens,
        check_retrieval=check_retrieval,
        template=str(template) if template else None,
    )
    with user_errors():
        pipeline = load_pipeline(config)
        try:
            record = generate_synthetic(
                pipeline,
                out,
                options,
                command=_command_line(),
                config_path=config,
                overwrite=overwrite,
                progress=lambda line: typer.echo(line, err=True),
            )
        finally:
            pipeline.close()
    counts = record["counts"]
    if as_json:
        emit_json({"out": str(out), "generator": record["generator"], "stopped": record["stopped"], **counts})
        return
    dropped = ", ".join(f"{k} {v}" for k, v in counts["dropped"].items() if v) or "none"
    typer.echo(
        f"wrote {counts['kept']} questions to {out} ({counts['generated']} generated; dropped: {dropped}; "
        f"{record['stopped']})"
    )
    roots = record["corpus_roots"]
    corpus = roots[0] if len(roots) == 1 else "<the folder you ingested>"
    typer.echo(f"suite dataset: {{type: files, path: {out.resolve()}, corpus: {corpus}}}  (see {out / 'README.md'})")


def _print_summary(data: dict[str, Any]) -> None:
    from rag_app.evaluation.metrics import MetricName

    if data.get("kind") == "answers":
        from rag_app.evaluation.answer_report import format_answer_summary

        typer.echo(format_answer_summary(data))
        return

    keys = [k for k in ("ndcg@10", "recall@100", "mrr@10", "hit@10") if k in data["method"]["metrics"]]
    typer.echo(f"{data['dataset']['name']}: {data['dataset']['queries_evaluated']} queries")
    head = f"{'pipeline':<24}" + "".join(f"{MetricName.parse(k).display:>12}" for k in keys) + f"{'p50 ms':>9}"
    typer.echo(head)
    for label, p in data["pipelines"].items():
        cells = "".join(f"{p['metrics'][k]:>12.4f}" for k in keys)
        reuse = "  (cached index)" if p["cache"]["reused"] else ""
        typer.echo(f"{label:<24}{cells}{p['latency_ms']['p50']:>9.1f}{reuse}")


def _command_line() -> str:
    argv = list(sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)
