"""``rag eval SUITE`` and ``rag eval compare A B``.

``rag eval SUITE`` is short for ``rag eval run SUITE``. Exit status: 0 when
every gate passes, 1 when a pipeline falls below a gate (one line each), 2 for
user errors (bad suite, missing dataset) with one line naming the fix.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rag_app.cli.common import JsonOpt, emit_json, user_errors


class _DefaultRunGroup(TyperGroup):
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
    help="Evaluate pipelines on a suite (rag eval SUITE), or compare two reports (rag eval compare A B).",
)

ReportsOpt = Annotated[
    Path,
    typer.Option("--reports-dir", envvar="RAG_EVAL_REPORTS", help="where report folders are written"),
]
CacheOpt = Annotated[
    Path,
    typer.Option("--cache-dir", envvar="RAG_EVAL_CACHE", help="isolated, reusable eval collections"),
]


@app.command("run")
def run(
    suite: Annotated[Path, typer.Argument(help="suite YAML, e.g. eval/suites/scifact.yaml")],
    fail_under: Annotated[
        list[str] | None,
        typer.Option("--fail-under", help="gate METRIC=VALUE, e.g. ndcg@10=0.6 (repeatable)"),
    ] = None,
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", help="only the pipeline with this label (repeatable)"),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="only the first N judged queries")] = None,
    reports_dir: ReportsOpt = Path("eval/reports"),
    cache_dir: CacheOpt = Path("eval/.cache"),
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="draw the report's PNG plots")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run every pipeline of SUITE, write eval/reports/<UTC time>-<suite>/, and check gates."""
    from rag_app.evaluation.gates import parse_fail_under
    from rag_app.evaluation.harness import run_eval

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with user_errors():
        gates = parse_fail_under(fail_under or [])
        result = run_eval(
            suite,
            reports_dir=reports_dir,
            cache_dir=cache_dir,
            fail_under=gates,
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
        typer.echo(f"report: {result.report_dir / 'report.html'}")
    for gate in result.failed_gates:
        typer.echo(f"gate failed: {gate.line()}", err=True)
    if result.failed_gates:
        raise typer.Exit(1)


@app.command("compare")
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


def _print_summary(data: dict[str, Any]) -> None:
    from rag_app.evaluation.metrics import MetricName

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
