"""``rag ask`` (one question, streamed) and ``rag chat`` (multi-turn in the terminal)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from rag_app.answering import CUT_SHORT, answer_dict
from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit_json, load_pipeline, user_errors
from rag_app.cli.index import parse_filter
from rag_app.generation.abstain import ABSTAIN_MESSAGE, ABSTAIN_REASONS, LOW_CONFIDENCE
from rag_app.generation.prompt import source_location
from rag_app.readable import answer_stages
from rag_app.types import Answer, Filter, Message

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline

TopK = Annotated[int | None, typer.Option("--top-k", "-k", help="chunks to retrieve (default: config)")]
Where = Annotated[
    list[str] | None,
    typer.Option("--where", "-w", metavar="<field=value>", help="metadata filter, e.g. format=pdf (repeatable)"),
]


def _print_sources(answer: Answer) -> None:
    if answer.abstained:
        reason = ABSTAIN_REASONS.get(answer.abstain_reason or "")
        if answer.abstain_reason == "unsupported":  # the unsupported text was streamed above
            typer.echo(ABSTAIN_MESSAGE)
        if reason:
            typer.echo(f"  note: {reason}")
        return
    cited = {c.number for c in answer.citations}
    typer.echo("")
    for i, hit in enumerate(answer.sources, 1):
        mark = "*" if i in cited else " "
        typer.echo(f"{mark}[{i}] {source_location(hit)}  (score {hit.score:.3f})")
    if answer.low_confidence:
        typer.echo(f"  note: low confidence (P(answerable) {answer.answerable:.2f}). {LOW_CONFIDENCE}")
    if answer.invalid_citations:
        typer.echo(f"  note: removed citations to sources that were not given: {answer.invalid_citations}")
    if answer.unsupported_citations:
        typer.echo(
            f"  note: removed citations whose source does not support the sentence: {answer.unsupported_citations}"
        )
    added = [c.number for c in answer.citations if c.added]
    if added:
        typer.echo(f"  note: cited the supporting source for uncited sentences: {added}")
    if answer.finish_reason == "length":
        typer.echo(f"  note: {CUT_SHORT}")
    unsupported = [c.text for c in answer.claims if c.supported is False]
    for claim in unsupported:
        typer.echo(f"  unsupported by any source: {claim}")
    stages = [
        f"{label} {seconds * 1000:.0f} ms" if label == "retrieval" else f"{label} {seconds:.2f} s"
        for label, seconds in answer_stages(answer.timings)
    ]
    typer.echo("  " + ", ".join(stages), err=True)


def _stream_answer(pipeline: Pipeline, question: str, history: list[Message], top_k: int | None,
                   filters: list[Filter]) -> Answer:
    stream = pipeline.stream(question, history=history, top_k=top_k, filters=filters)
    for piece in stream:
        sys.stdout.write(piece)
        sys.stdout.flush()
    typer.echo("")
    answer = stream.result()
    _print_sources(answer)
    return answer


def ask(
    question: Annotated[str, typer.Argument(help="your question")],
    config: ConfigOpt = DEFAULT_CONFIG,
    top_k: TopK = None,
    where: Where = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION from your documents, streaming tokens, then list the cited sources."""
    with user_errors():
        pipeline = load_pipeline(config)
        filters = [parse_filter(w) for w in where or []]
        try:
            if as_json:
                emit_json(answer_dict(pipeline.answer(question, top_k=top_k, filters=filters)))
            else:
                _stream_answer(pipeline, question, [], top_k, filters)
        finally:
            pipeline.close()


def chat(config: ConfigOpt = DEFAULT_CONFIG, top_k: TopK = None, where: Where = None) -> None:
    """Multi-turn chat in the terminal (empty line or Ctrl-D to quit, /new to start over)."""
    with user_errors():
        pipeline = load_pipeline(config)
        filters = [parse_filter(w) for w in where or []]
        history: list[Message] = []
        typer.echo("Ask about your documents. /new starts over; an empty line quits.")
        try:
            while True:
                try:
                    question = input("\nyou> ").strip()
                except EOFError:
                    break
                if not question:
                    break
                if question == "/new":
                    history.clear()
                    continue
                typer.echo("rag> ", nl=False)
                answer = _stream_answer(pipeline, question, history, top_k, filters)
                history += [Message("user", question), Message("assistant", answer.text)]
        finally:
            pipeline.close()
