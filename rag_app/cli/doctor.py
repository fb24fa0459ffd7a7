"""``rag doctor``: is this config usable on this machine?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from rag_app.cli import doctor_checks
from rag_app.cli.common import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit_json
from rag_app.errors import one_line


def doctor(config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """Check the config, its dependencies, the store, the models and the BM25 index; exit 1 if any check fails."""
    from rag_app import registry
    from rag_app.config import load_config
    from rag_app.pipeline import Pipeline, build_pipeline
    from rag_app.readable import store_location

    results: list[dict[str, str]] = []
    state: dict[str, object] = {}

    def check(name: str, fn: Callable[[], str]) -> bool:
        try:
            detail = fn()
        except Exception as exc:  # doctor reports every failure instead of stopping
            results.append({"check": name, "ok": "no", "detail": one_line(exc)})
            return False
        results.append({"check": name, "ok": "yes", "detail": detail})
        return True

    def parse() -> str:
        state["config"] = load_config(config)
        return str(config.resolve())

    def deps() -> str:
        chosen = _components(state["config"])
        for kind, name in chosen:
            registry.resolve(kind, name)
        return ", ".join(f"{k}={n}" for k, n in chosen)

    def build() -> str:
        state["pipeline"] = build_pipeline(state["config"])  # type: ignore[arg-type]
        return "all params valid"

    def model() -> str:
        p: Pipeline = state["pipeline"]  # type: ignore[assignment]
        vector = p.embedder.embed_query("doctor")
        return f"{p.embedder.name} ({len(vector)} dims)"

    def store() -> str:
        p: Pipeline = state["pipeline"]  # type: ignore[assignment]
        fp = p.store.fingerprint()
        count = p.store.count()
        where = store_location(p.config)
        return f"{p.config.store.type}{', ' + where if where else ''}: {count} chunks" + (
            "" if fp else " (no collection yet)"
        )

    ok = check("config parses", parse)
    ok = ok and check("dependencies installed", deps)
    ok = ok and check("component params valid", build)
    if ok:
        p: Pipeline = state["pipeline"]  # type: ignore[assignment]
        ok = check("embedding model loads", model) & check("store reachable", store)
        ok = check("generator usable", lambda: doctor_checks.generator(p)) & ok
        ok = check("sparse index", lambda: doctor_checks.bm25(p)) & ok
        p.close()
    if as_json:
        emit_json(results)
    else:
        for r in results:
            mark = "ok " if r["ok"] == "yes" else "FAIL"
            typer.echo(f"[{mark}] {r['check']}: {r['detail']}")
    if not ok:
        raise typer.Exit(1)


def _components(cfg: Any) -> list[tuple[str, str]]:
    """Every (kind, name) the config selects, in pipeline order."""
    chosen = [("embedder", cfg.embedder.type), ("chunker", cfg.chunker.type), ("store", cfg.store.type)]
    chosen += [("retriever", spec.type) for spec in cfg.retrieval.retrievers]
    if cfg.retrieval.reranker is not None:
        chosen.append(("reranker", cfg.retrieval.reranker.type))
    if cfg.generator is not None:
        chosen.append(("generator", cfg.generator.type))
    return chosen
