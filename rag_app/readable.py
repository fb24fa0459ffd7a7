"""Collection fingerprints, store locations and answer timings as text a person reads (not dict reprs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_app.config import PipelineConfig

_FIRST = ("embedder", "chunker")


def value_text(value: Any) -> str:
    """``True`` -> ``yes``, a mapping -> ``type (key value, ...)``, anything else as written."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        rest = ", ".join(f"{k} {value_text(v)}" for k, v in value.items() if k != "type")
        kind = str(value.get("type", "")).strip()
        return f"{kind} ({rest})" if kind and rest else kind or rest
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    return str(value)


def fingerprint_fields(fp: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, text)`` pairs: embedder (with dimension and normalisation), chunker, then any other key."""
    fields: list[tuple[str, str]] = []
    if "embedder" in fp:
        extras = []
        if "dimension" in fp:
            extras.append(f"{fp['dimension']} dims")
        if "normalized" in fp:
            extras.append("normalized" if fp["normalized"] else "not normalized")
        text = value_text(fp["embedder"])
        fields.append(("embedder", f"{text} ({', '.join(extras)})" if extras else text))
    if "chunker" in fp:
        fields.append(("chunker", value_text(fp["chunker"])))
    handled = {*_FIRST, "dimension", "normalized"} if "embedder" in fp else set(_FIRST)
    fields.extend((key, value_text(fp[key])) for key in sorted(fp) if key not in handled)
    return fields


def fingerprint_line(fp: Mapping[str, Any] | None) -> str:
    """One line, e.g. ``embedder all-MiniLM-L6-v2 (384 dims, normalized); chunker markdown (chunk_size 200)``."""
    if not fp:
        return "no fingerprint"
    return "; ".join(f"{label} {text}" for label, text in fingerprint_fields(fp))


def fingerprint_difference(built: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """What differs, as a sentence: ``built with embedder A (384 dims), this config uses embedder B (768 dims)``.

    Only the keys whose values differ are named (with the embedder's dimension
    and normalisation when the embedder differs, so the line stays readable).
    """
    keys = {k for k in set(built) | set(wanted) if built.get(k) != wanted.get(k)}
    if keys & {"embedder", "dimension", "normalized"}:
        keys |= {"embedder", "dimension", "normalized"}

    def side(fp: Mapping[str, Any]) -> str:
        present = {k: fp[k] for k in sorted(keys) if k in fp}
        missing = sorted(k for k in keys - set(present) if k not in ("dimension", "normalized"))
        parts = [fingerprint_line(present)] if present else []
        parts += [f"no {k}" for k in missing]
        return "; ".join(parts) or "no fingerprint"

    return f"built with {side(built)}, this config uses {side(wanted)}"


def store_location(config: PipelineConfig) -> str:
    """Where the configured store keeps its data: a resolved file path or the server URL, plus the collection."""
    params = config.store.params
    parts: list[str] = []
    for key in ("collection", "index", "namespace"):
        if params.get(key):
            parts.append(f"{key} {params[key]}")
    for key in ("uri", "path", "host"):
        value = params.get(key)
        if isinstance(value, str) and value:
            is_url = "://" in value
            parts.append(f"at {value if is_url else config.resolve_path(value)}")
            break
    return ", ".join(parts)


def answer_stages(timings: Mapping[str, float]) -> list[tuple[str, float]]:
    """(label, seconds) of an answer's timings as the CLI and UI show them, for the stages that ran.

    ``condense``, ``retrieval``, ``prompt`` (building it; the first question also loads a local
    model there) and ``judge`` are how long each stage took; ``first token`` and ``total`` count
    from the question, so the judge's pass (most of the wait with a local model) is inside the
    first-token time the reader sees. ``Answer.timings["first_token"]`` itself is generation's
    own time to its first piece.
    """
    labels = (("condense", "condense"), ("retrieve", "retrieval"), ("prompt", "prompt"), ("judge", "judge"))
    stages = [(label, timings[key]) for key, label in labels if key in timings]
    if "first_token" in timings and "generate" in timings and "total" in timings:
        before_generation = timings["total"] - timings["generate"]
        stages.append(("first token", before_generation + timings["first_token"]))
    if "total" in timings:
        stages.append(("total", timings["total"]))
    return stages
