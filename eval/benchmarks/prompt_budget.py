"""How many prompt tokens each answer setting costs, and whether the key facts still reach the prompt.

Time to first token on CPU is the time to read the prompt, nearly all of it sources. This
measures, for each ``retrieval.top_k`` x ``answer.excerpt_tokens`` setting, over the answerable
questions of the answer gold set (no text generated, so it runs in a minute or two):

- prompt tokens (p50 / p95), counted with the generator's own tokenizer;
- fact coverage: the share of questions all of whose key facts occur in the prompt (matched
  the way the answer suite matches answers). An answer cannot be correct when this fails,
  so it bounds ``correct`` from above.

    .venv/bin/python eval/benchmarks/prompt_budget.py [--config pipelines/local.yaml]

The pipeline's store moves to a temporary memory store over ``data/corpus``; its chunker,
embedder, retrievers and template stay.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.config import load_config  # noqa: E402
from rag_app.evaluation.answer_scoring import fact_matches, normalise  # noqa: E402
from rag_app.evaluation.answers import GoldQuestion, read_questions  # noqa: E402
from rag_app.generation.prompt import build_messages  # noqa: E402
from rag_app.generation.templates import load_template  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402

TOP_K = (3, 4, 5)
EXCERPTS: tuple[int | None, ...] = (40, 60, 80, 100, None)
BUDGETS = (400, 500, 600)  # context_budget_tokens tried with whole chunks (lowest-ranked chunks dropped)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "pipelines" / "local.yaml"))
    parser.add_argument("--questions", type=Path, default=REPO / "eval/datasets/handbook-answers/questions.jsonl")
    parser.add_argument("--chunk-size", type=int, default=None, help="re-chunk at this size (overlap 15%%)")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    config = load_config(args.config)
    if args.chunk_size:
        params = {**config.chunker.params, "chunk_size": args.chunk_size, "chunk_overlap": args.chunk_size * 15 // 100}
        config = config.model_copy(update={"chunker": config.chunker.model_copy(update={"params": params})})
    print(f"chunker: {config.chunker.type} {config.chunker.params}")
    with tempfile.TemporaryDirectory() as tmp:
        config = config.model_copy(
            update={
                "store": config.store.model_copy(update={"type": "memory", "params": {"path": f"{tmp}/store"}}),
                "ingest": config.ingest.model_copy(update={"state_dir": tmp}),
            }
        )
        pipeline = build_pipeline(config)
        started = time.perf_counter()
        pipeline.ingest([REPO / "data" / "corpus"])
        print(f"ingested data/corpus into a memory store in {time.perf_counter() - started:.0f} s")
        golds = [g for g in read_questions(args.questions, REPO / "data" / "corpus") if g.answerable]
        assert pipeline.generator is not None
        count = pipeline.generator.count_tokens
        template = load_template(config.answer.template, base_dir=config.base_dir)
        hits = {g.id: pipeline.search(g.question, top_k=max(TOP_K)) for g in golds}
        print(f"{len(golds)} answerable questions; context_budget_tokens {config.answer.context_budget_tokens}\n")
        print("| top_k | excerpt_tokens | context_budget_tokens | prompt tokens p50 | p95 | all facts in the prompt |")
        print("|---:|---:|---:|---:|---:|---:|")
        default = config.answer.context_budget_tokens
        settings = [(k, e, default) for k in TOP_K for e in EXCERPTS] + [(max(TOP_K), None, b) for b in BUDGETS]
        for top_k, excerpt, budget in settings:
            tokens, covered = [], 0
            for gold in golds:
                messages, _ = build_messages(
                    gold.question,
                    hits[gold.id][:top_k],
                    template=template,
                    count_tokens=count,
                    context_budget_tokens=budget,
                    excerpt_tokens=excerpt,
                )
                tokens.append(sum(count(m.content) for m in messages))
                covered += _all_facts(gold, " ".join(m.content for m in messages))
            p95 = statistics.quantiles(tokens, n=20)[-1]
            print(
                f"| {top_k} | {excerpt or 'whole chunks'} | {budget} | {statistics.median(tokens):.0f} | {p95:.0f}"
                f" | {covered / len(golds):.3f} |"
            )
    return 0


def _all_facts(gold: GoldQuestion, prompt: str) -> bool:
    return all(found is not None for found in fact_matches(normalise(prompt), gold.facts))


if __name__ == "__main__":
    raise SystemExit(main())
