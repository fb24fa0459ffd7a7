"""Synthetic gold sets: one generated question per sampled chunk, judged against the chunk's document.

``rag eval generate`` reads what a pipeline has ingested, skips short and heading/boilerplate chunks,
orders the rest with a seed (documents shuffled, round-robin, ``per_document`` at most each), asks the
pipeline's generator for one question per chunk, filters the questions (``FILTERS``) and writes a BEIR
folder. A question's corpus-id is its chunk's ``relpath`` (else ``doc_id``), as :meth:`EvalDataset.doc_key`
maps retrieved chunks, so a ``files`` suite over the same corpus folder loads the set as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import string
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag_app.errors import ConfigError, InputError
from rag_app.evaluation.configs import config_dict, config_hash
from rag_app.generation.templates import TEMPLATE_DIR
from rag_app.pipeline import Pipeline
from rag_app.protocols import Generator
from rag_app.types import Chunk, Message

DEFAULT_TEMPLATE = TEMPLATE_DIR / "synthetic_question.txt"
FILTERS = ("empty", "too_short", "too_long", "no_question_mark", "refers_to_passage", "copied_span", "duplicate",
           "not_retrieved")
_SECTION = re.compile(r"^\[(system|user)\][ \t]*$", re.MULTILINE)
_WORD = re.compile(r"\w+")
_PREFIX = re.compile(r"^(?:(?:generated\s+)?question\s*\d*\s*[:.)-]|q\d*\s*[:.)-]|\d+\s*[.)]|[-*•>])\s*", re.I)
_DEICTIC = re.compile(r"\b(?:the|this|that|above|given|provided) (?:passage|text|excerpt|paragraph|context)\b"
                      r"|\b(?:in|from) (?:the|this) (?:document|article|section|chapter)\?$", re.I)
_QUOTES = "\"'“”‘’` "
Counts = dict[str, int]


@dataclass(frozen=True)
class GenerateOptions:
    """How many questions, from which chunks, and how strictly they are filtered."""

    n: int = 50
    seed: int = 0
    per_document: int = 2
    min_chunk_tokens: int = 40  # counted with the generator's count_tokens
    check_retrieval: bool = True  # keep a question only if its document is in the pipeline's own top_k
    min_words: int = 4
    max_words: int = 40
    copy_words: int = 8  # drop a question that repeats this many consecutive words of its chunk
    max_attempts: int | None = None  # generator calls at most (default 3 * n)
    max_tokens: int = 96
    template: str | None = None  # a question template file (default: synthetic_question.txt)


def doc_key(chunk: Chunk) -> str:
    """The qrels corpus-id of a chunk's document: ``relpath`` (``files`` datasets), else ``doc_id``."""
    rel = chunk.metadata.get("relpath")
    return str(rel) if rel else chunk.doc_id


def normalise(text: str) -> str:
    """Lower-cased words joined by single spaces (what duplicate and copy checks compare)."""
    return " ".join(_WORD.findall(text.lower()))


def unusable(chunk: Chunk, tokens: int, min_tokens: int, shared: Collection[str] = ()) -> str | None:
    """``too_short``; ``boilerplate``: under half prose (headings, tables, links, fragments) or shared text; None."""
    if tokens < min_tokens:
        return "too_short"
    prose = 0
    for line in (x.strip() for x in chunk.text.splitlines()):
        words = _WORD.findall(line)
        if not line.startswith(("#", "|", "```", "![", "http")) and len(words) >= 5:
            prose += len(words) if sum(ch.isalpha() for ch in line) >= 0.6 * len(line) else 0
    return "boilerplate" if normalise(chunk.text) in shared or prose < 0.5 * len(_WORD.findall(chunk.text)) else None


def sample_chunks(chunks: Sequence[Chunk], *, seed: int, per_document: int) -> list[Chunk]:
    """Candidates in a seeded order: documents shuffled, then round-robin, ``per_document`` at most each."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        by_doc.setdefault(doc_key(chunk), []).append(chunk)
    rng = random.Random(seed)
    docs = rng.sample(sorted(by_doc), len(by_doc))
    picks = [rng.sample(by_doc[d], min(per_document, len(by_doc[d]))) for d in docs]
    return [p[r] for r in range(per_document) for p in picks if r < len(p)]


def load_question_template(path: str | Path | None = None) -> tuple[str, str]:
    """``(system, user)`` of a template file: ``[system]``/``[user]`` sections, ``{passage}``, ``{location}``."""
    file = Path(path).expanduser() if path else DEFAULT_TEMPLATE
    try:
        parts = _SECTION.split(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read question template {file} ({exc.strerror})") from exc
    sections = {key: body.strip("\n") for key, body in zip(parts[1::2], parts[2::2], strict=True)}
    try:
        used = {f for body in sections.values() for _, f, _, _ in string.Formatter().parse(body) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"question template {file}: bad braces ({exc}); write literal braces as {{{{ }}}}") from exc
    stray = any(x.strip() and not x.lstrip().startswith("#") for x in parts[0].splitlines())
    if stray or "user" not in sections or "passage" not in used or not used <= {"passage", "location"}:
        raise ConfigError(
            f"question template {file}: needs [system]/[user] sections (nothing but # comments before them) "
            f"using {{passage}} and optionally {{location}}; found fields: {', '.join(sorted(used)) or 'none'}"
        )
    return sections.get("system", ""), sections["user"]


def clean_question(raw: str) -> str:
    """The reply's first line without 'Question:', numbering, quotes or bold, cut after its first '?'."""
    line = next((x.strip() for x in raw.strip().splitlines() if x.strip()), "")
    line = " ".join(_PREFIX.sub("", line.replace("**", "").replace("？", "?")).split()).strip(_QUOTES)
    return (line[: line.index("?") + 1] if "?" in line else line).strip(_QUOTES)


def copied_span(question: str, passage: str, n: int) -> bool:
    """Whether ``question`` repeats ``n`` consecutive words of ``passage`` (case and punctuation ignored)."""
    q, p = normalise(question).split(), normalise(passage).split()
    grams = {tuple(p[i : i + n]) for i in range(len(p) - n + 1)}
    return any(tuple(q[i : i + n]) in grams for i in range(len(q) - n + 1))


def check_question(question: str, passage: str, seen: set[str], opts: GenerateOptions) -> str | None:
    """The first text filter (in ``FILTERS`` order) that rejects ``question``; None keeps it."""
    words = normalise(question).split()
    checks = (
        ("empty", not words), ("too_short", len(words) < opts.min_words), ("too_long", len(words) > opts.max_words),
        ("no_question_mark", not question.endswith("?")), ("refers_to_passage", bool(_DEICTIC.search(question))),
        ("copied_span", copied_span(question, passage, opts.copy_words)), ("duplicate", " ".join(words) in seen),
    )
    return next((name for name, failed in checks if failed), None)


def generate_synthetic(
    pipeline: Pipeline, out: Path, opts: GenerateOptions | None = None, *, command: str = "",
    config_path: Path | None = None, overwrite: bool = False, progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write a synthetic dataset into ``out`` for what ``pipeline`` has ingested; returns generation.json."""
    opts, say = opts or GenerateOptions(), progress or (lambda _: None)
    generator = pipeline.generator
    if generator is None:
        raise ConfigError(f"pipeline {pipeline.config.name!r} has no generator to write questions with; "
                          "add a `generator:` block to its config")
    if (out / "queries.jsonl").exists() and not overwrite:
        raise InputError(f"{out} already holds a dataset (queries.jsonl); pass --overwrite or choose another --out")
    system, user = load_question_template(opts.template)
    chunks, usable, skipped = _usable_chunks(pipeline, generator, opts.min_chunk_tokens)
    candidates = sample_chunks(usable, seed=opts.seed, per_document=opts.per_document)
    docs = len({doc_key(c) for c in usable})
    say(f"{len(chunks)} chunks, {len(usable)} usable in {docs} documents, {len(candidates)} candidates")
    dropped, seen, rows, tried = dict.fromkeys(FILTERS, 0), set[str](), list[dict[str, Any]](), 0
    top_k, limit = pipeline.config.retrieval.top_k, opts.max_attempts or 3 * opts.n
    for chunk in candidates:
        if len(rows) >= opts.n or tried >= limit:
            break
        tried += 1
        section = chunk.metadata.get("section")
        fields = {"passage": chunk.text, "location": doc_key(chunk) + (f", § {section}" if section else "")}
        messages = [Message("system", system.format(**fields))] if system.strip() else []
        messages.append(Message("user", user.format(**fields)))
        question = clean_question(generator.generate(messages, max_tokens=opts.max_tokens).text)
        reason = check_question(question, chunk.text, seen, opts)
        if reason is None and opts.check_retrieval:
            hits = pipeline.search(question, top_k=top_k)
            reason = None if doc_key(chunk) in {doc_key(h.chunk) for h in hits} else "not_retrieved"
        if reason is not None:
            dropped[reason] += 1
            say(f"[{tried}] dropped ({reason}): {question[:100]!r}")
            continue
        seen.add(normalise(question))
        meta = {"chunk_id": chunk.chunk_id, "source": doc_key(chunk)}
        rows.append({"_id": f"syn-{len(rows) + 1:04d}", "text": question, "metadata": meta})
        say(f"[{tried}] kept {len(rows)}/{opts.n}: {question[:100]!r}")
    if not rows:
        raise InputError(f"all {tried} generated questions were dropped by the filters ({_summary(dropped)})")
    template = Path(opts.template).expanduser() if opts.template else DEFAULT_TEMPLATE
    record = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "command": command,
        "config": str(config_path) if config_path else None, "pipeline": pipeline.config.name,
        "config_hash": config_hash(pipeline.config), "generator": generator.name, "seed": opts.seed,
        "template": str(template), "template_sha256": hashlib.sha256(template.read_bytes()).hexdigest(),
        "options": asdict(opts), "retrieval_top_k": top_k if opts.check_retrieval else None,
        "corpus_id": "relpath" if all(c.metadata.get("relpath") for c in usable) else "relpath, else doc_id",
        "corpus_roots": sorted({_root(c) for c in usable} - {""}),
        "counts": {"chunks": len(chunks), "skipped_chunks": skipped, "documents": docs,
                   "candidates": len(candidates), "generated": tried, "dropped": dropped, "kept": len(rows)},
        "stopped": "reached n" if len(rows) >= opts.n else "attempt limit" if tried >= limit else "no candidates left",
        "pipeline_config": config_dict(pipeline.config),
    }
    _write(out, rows, record)
    return record


def _usable_chunks(pipeline: Pipeline, gen: Generator, min_tokens: int) -> tuple[list[Chunk], list[Chunk], Counts]:
    store = pipeline.store
    if not pipeline.collection.open_recorded() or store.count() == 0:
        raise InputError(f"nothing has been ingested into this {pipeline.config.store.type} store yet; "
                         "run `rag ingest --config <config> <paths>` first")
    chunks = [chunk for batch, _ in store.export() for chunk in batch]
    owners: dict[str, set[str]] = {}
    for c in chunks:
        owners.setdefault(normalise(c.text), set()).add(doc_key(c))
    shared = {text for text, docs in owners.items() if len(docs) > 1}
    skipped, usable = {"too_short": 0, "boilerplate": 0}, []
    for c in chunks:
        reason = unusable(c, gen.count_tokens(c.text), min_tokens, shared)
        if reason:
            skipped[reason] += 1
        else:
            usable.append(c)
    if not usable:
        raise InputError(f"none of the {len(chunks)} ingested chunks is usable ({_summary(skipped)}); "
                         "lower --min-chunk-tokens")
    return chunks, usable, skipped


def _root(chunk: Chunk) -> str:
    """The folder a chunk's ``relpath`` is relative to (its ingest root), or ''."""
    rel, source = str(chunk.metadata.get("relpath") or ""), chunk.source
    return source[: -len(rel)].rstrip("/") if rel and source.endswith("/" + rel) else ""


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def _write(out: Path, rows: list[dict[str, Any]], record: dict[str, Any]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    (out / "queries.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    qrels = "".join(f"{r['_id']}\t{r['metadata']['source']}\t1\n" for r in rows)
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    (out / "generation.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    r, c, roots = record, record["counts"], record["corpus_roots"]
    (out / "README.md").write_text(
        f"# {out.name}: synthetic questions\n\nWritten by `{r['generator']}` from pipeline `{r['pipeline']}` "
        f"(seed {r['seed']}, {r['created']}): one question per chunk, judged relevant to the chunk's document.\n"
        f"Command: `{r['command']}`\n\n{c['chunks']} chunks (skipped: {_summary(c['skipped_chunks'])}), "
        f"{c['generated']} questions generated, {c['kept']} kept ({r['stopped']}); dropped: {_summary(c['dropped'])}."
        "\nSee generation.json. Synthetic questions share words with their chunk: compare pipelines with them, "
        f"do not read them as absolute quality.\n\n```yaml\ndataset:\n  type: files\n  path: {out.resolve()}\n"
        f"  corpus: {roots[0] if len(roots) == 1 else '<the folder that was ingested>'}\n```\n",
        encoding="utf-8",
    )
