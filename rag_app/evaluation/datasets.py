"""Eval datasets: BEIR folders and folders of files, with their queries and judgements.

BEIR corpora become one Document per record with ``text = title + " " + text``
(the BEIR convention) and ``doc_id`` = the record's ``_id``. A ``files`` corpus
is ingested by the pipeline's own loaders; its judgements name documents by
their path relative to the corpus folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag_app.errors import ConfigError
from rag_app.evaluation.suite import QuerySubset, Suite
from rag_app.types import Document, ScoredChunk

logger = logging.getLogger(__name__)


class DatasetNotFoundError(ConfigError):
    """The dataset folder (or one of its files) is missing."""


@dataclass
class EvalDataset:
    """Queries and judgements of one dataset, plus where its corpus lives."""

    name: str
    type: str
    path: Path
    corpus_path: Path
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    checksums: dict[str, str] = field(default_factory=dict)
    skipped_unjudged: int = 0

    @property
    def checksum(self) -> str:
        """One digest over every input file of the dataset."""
        joined = json.dumps(self.checksums, sort_keys=True).encode()
        return hashlib.sha256(joined).hexdigest()

    @property
    def index_name(self) -> str:
        """The cache folder's name: the corpus folder's for ``files`` (shared by every suite over it)."""
        return self.name if self.type == "beir" else self.corpus_path.name

    @property
    def index_checksum(self) -> str:
        """What decides whether a cached collection holds this corpus.

        ``files``: the corpus folder's digest alone, so a retrieval suite and an answer
        suite over one folder share a collection. ``beir``: the whole dataset's digest
        (as before; corpus.jsonl is part of it).
        """
        return self.checksum if self.type == "beir" else self.checksums["corpus"]

    def documents(self) -> Iterator[Document]:
        """BEIR corpus records as Documents (``files`` datasets are ingested from ``corpus_path``)."""
        if self.type != "beir":
            raise ConfigError("only beir datasets carry their documents in corpus.jsonl")
        with self.corpus_path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                rec = json_line(line, self.corpus_path, n)
                doc_id, title = str(rec.get("_id", "")), str(rec.get("title") or "")
                if not doc_id:
                    raise ConfigError(f"{self.corpus_path}:{n}: record has no '_id'")
                text = (title + " " + str(rec.get("text") or "")).strip()
                yield Document(doc_id, f"{self.name}:{doc_id}", text, {"title": title, "beir_id": doc_id})

    def doc_key(self, hit: ScoredChunk) -> str:
        """The id the judgements use for the document a chunk came from."""
        if self.type == "beir":
            return hit.chunk.doc_id
        rel = hit.chunk.metadata.get("relpath")
        if rel:
            return str(rel)
        try:
            return Path(hit.chunk.source).resolve().relative_to(self.corpus_path).as_posix()
        except ValueError:
            return hit.chunk.source


def load_dataset(suite: Suite) -> EvalDataset:
    """Read the suite's queries and judgements (the corpus is read later, while ingesting)."""
    spec = suite.dataset
    root = suite.resolve(spec.path)
    corpus = root / "corpus.jsonl" if spec.type == "beir" else suite.resolve(spec.corpus or "")
    queries_file = root / spec.queries_file
    qrels_file = root / (spec.qrels_file or f"qrels/{spec.split}.tsv")
    for needed in (root, corpus, queries_file, qrels_file):
        if not needed.exists():
            raise DatasetNotFoundError(missing_message(spec.env_vars, needed))
    queries = _read_queries(queries_file)
    qrels = _read_qrels(qrels_file)
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        logger.warning("%d judged query ids are not in %s (ignored), e.g. %s", len(unknown), queries_file, unknown[0])
    judged = {q: qrels[q] for q in queries if q in qrels}
    checksums = {
        "queries": sha256_file(queries_file),
        "qrels": sha256_file(qrels_file),
        "corpus": sha256_file(corpus) if corpus.is_file() else sha256_tree(corpus),
    }
    dataset = EvalDataset(
        name=spec.name or root.name,
        type=spec.type,
        path=root,
        corpus_path=corpus.resolve(),
        split=spec.split,
        queries={q: queries[q] for q in judged},
        qrels=judged,
        checksums=checksums,
        skipped_unjudged=len(queries) - len(judged),
    )
    select_queries(dataset, suite.queries)
    if not dataset.queries:
        raise ConfigError(f"{qrels_file}: no judged queries left to evaluate")
    return dataset


def select_queries(dataset: EvalDataset, subset: QuerySubset) -> None:
    """Keep the first N, a seeded random N, or the listed ids (in place)."""
    ids = list(dataset.queries)
    if subset.limit is not None:
        ids = ids[: subset.limit]
    elif subset.sample is not None:
        ids = sorted(random.Random(subset.seed).sample(ids, min(subset.sample, len(ids))), key=ids.index)
    elif subset.ids is not None:
        missing = [q for q in subset.ids if q not in dataset.queries]
        if missing:
            raise ConfigError(f"queries.ids: {len(missing)} ids are not judged queries, e.g. {missing[0]!r}")
        ids = list(dict.fromkeys(subset.ids))
    dataset.queries = {q: dataset.queries[q] for q in ids}
    dataset.qrels = {q: dataset.qrels[q] for q in ids}


def missing_message(env_vars: list[str], path: Path) -> str:
    """``dataset not found: <path> does not exist; set $VAR to the dataset folder``."""
    hint = f"; set {' or '.join('$' + v for v in env_vars)} to the dataset folder" if env_vars else ""
    return f"dataset not found: {path} does not exist{hint}"


def json_line(line: str, path: Path, n: int) -> dict[str, object]:
    try:
        rec = json.loads(line)
    except ValueError as exc:
        raise ConfigError(f"{path}:{n}: invalid JSON ({exc})") from exc
    if not isinstance(rec, dict):
        raise ConfigError(f"{path}:{n}: expected a JSON object")
    return rec


def _read_queries(path: Path) -> dict[str, str]:
    """``{"_id", "text"}`` per line (``id``/``query``/``question`` are accepted too)."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json_line(line, path, n)
            qid = rec.get("_id", rec.get("id"))
            text = rec.get("text", rec.get("query", rec.get("question")))
            if qid is None or not isinstance(text, str) or not text.strip():
                raise ConfigError(f"{path}:{n}: each query needs '_id' and a non-empty 'text'")
            out[str(qid)] = text
    return out


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id<TAB>corpus-id<TAB>score`` with an optional header line (BEIR layout)."""
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) == 4:  # TREC style: qid 0 docid rel
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                raise ConfigError(f"{path}:{n}: expected query-id, corpus-id, score separated by tabs")
            try:
                score = int(float(row[2]))
            except ValueError:
                if n == 1:
                    continue  # header line
                raise ConfigError(f"{path}:{n}: score {row[2]!r} is not a number") from None
            out.setdefault(row[0].strip(), {})[row[1].strip()] = score
    return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """Digest of every file under ``root`` (relative path + content), hidden files excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        digest.update(rel.encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return digest.hexdigest()
