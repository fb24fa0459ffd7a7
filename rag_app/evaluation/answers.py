"""Answer gold sets: ``questions.jsonl`` with key facts and expected source files.

One JSON object per line::

    {"id": "a001", "question": "...", "answerable": true,
     "facts": [["50,257", "50257"], ["byte-level"]],
     "sources": ["tokenisation/byte-pair-encoding.md"], "reference": "...", "kind": "number"}
    {"id": "u001", "question": "...", "answerable": false, "facts": [], "sources": [],
     "reference": "", "kind": "near_miss", "why": "..."}

``facts`` lists the key facts of the answer, each as a list of acceptable
alternatives (a plain string is one alternative). ``sources`` are file paths
relative to the suite's corpus folder, compared with a chunk's
``metadata["relpath"]``. Other keys are kept and shown in answers.jsonl.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.errors import ConfigError
from rag_app.evaluation.answer_suite import AnswerSuite
from rag_app.evaluation.datasets import DatasetNotFoundError, json_line, missing_message, sha256_file, sha256_tree
from rag_app.evaluation.suite import QuerySubset
from rag_app.types import Chunk

_KNOWN = {"id", "question", "answerable", "facts", "sources", "reference", "kind", "why"}


@dataclass(frozen=True)
class GoldQuestion:
    """One question of an answer gold set."""

    id: str
    question: str
    answerable: bool
    facts: tuple[tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()
    reference: str = ""
    kind: str = "unspecified"
    why: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class AnswerDataset:
    """The selected questions of an answer suite, and where its corpus lives."""

    name: str
    path: Path
    corpus_path: Path
    questions: list[GoldQuestion]
    checksums: dict[str, str]
    questions_in_file: int
    type: str = "answers"

    @property
    def index_name(self) -> str:
        """The cache folder's name (the corpus folder's, as for ``files`` retrieval datasets)."""
        return self.corpus_path.name

    @property
    def index_checksum(self) -> str:
        """The corpus digest alone: a retrieval suite over the same folder shares the collection."""
        return self.checksums["corpus"]

    def relpath(self, chunk: Chunk) -> str:
        """The chunk's file relative to the corpus (``metadata["relpath"]``, else from its source)."""
        rel = chunk.metadata.get("relpath")
        if rel:
            return str(rel)
        try:
            return Path(chunk.source).resolve().relative_to(self.corpus_path).as_posix()
        except ValueError:
            return chunk.source


def load_answer_dataset(suite: AnswerSuite) -> AnswerDataset:
    """Read and check the suite's questions (the corpus is read later, while ingesting)."""
    spec = suite.dataset
    root = suite.resolve(spec.path)
    corpus = suite.resolve(spec.corpus)
    file = root / spec.questions_file
    for needed in (root, corpus, file):
        if not needed.exists():
            raise DatasetNotFoundError(missing_message(spec.env_vars, needed))
    if not corpus.is_dir():
        raise ConfigError(f"dataset corpus {corpus} is not a folder")
    questions = read_questions(file, corpus)
    if not questions:
        raise ConfigError(f"{file}: no questions")
    dataset = AnswerDataset(
        name=spec.name or root.name,
        path=root,
        corpus_path=corpus.resolve(),
        questions=select_questions(questions, suite.questions),
        checksums={"questions": sha256_file(file), "corpus": sha256_tree(corpus)},
        questions_in_file=len(questions),
    )
    return dataset


def read_questions(path: Path, corpus: Path) -> list[GoldQuestion]:
    """Parse and validate ``questions.jsonl`` (errors name the file and line)."""
    out: list[GoldQuestion] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            question = _question(json_line(line, path, n), f"{path}:{n}", corpus)
            if question.id in seen:
                raise ConfigError(f"{path}:{n}: duplicate id {question.id!r}")
            seen.add(question.id)
            out.append(question)
    return out


def _question(rec: dict[str, Any], where: str, corpus: Path) -> GoldQuestion:
    qid, text, answerable = rec.get("id"), rec.get("question"), rec.get("answerable")
    if not isinstance(qid, str | int) or not str(qid).strip():
        raise ConfigError(f"{where}: each question needs an 'id'")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: question {qid!r} needs a non-empty 'question'")
    if not isinstance(answerable, bool):
        raise ConfigError(f"{where}: question {qid!r}: 'answerable' must be true or false")
    facts = _facts(rec.get("facts") or [], where)
    sources = rec.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        raise ConfigError(f"{where}: 'sources' must be a list of file paths relative to the corpus")
    if answerable and not facts:
        raise ConfigError(f"{where}: answerable question {qid!r} has no 'facts' to check the answer against")
    for source in sources:
        if not (corpus / source).is_file():
            raise ConfigError(f"{where}: source {source!r} is not a file under the corpus folder {corpus}")
    return GoldQuestion(
        id=str(qid),
        question=text.strip(),
        answerable=answerable,
        facts=facts,
        sources=tuple(Path(s).as_posix() for s in sources),
        reference=str(rec.get("reference") or ""),
        kind=str(rec.get("kind") or "unspecified"),
        why=str(rec.get("why") or ""),
        extra={k: v for k, v in rec.items() if k not in _KNOWN},
    )


def _facts(raw: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'facts' must be a list of facts, each a list of alternatives")
    facts = []
    for fact in raw:
        alternatives = [fact] if isinstance(fact, str) else fact
        if (
            not isinstance(alternatives, list)
            or not alternatives
            or not all(isinstance(a, str) and a.strip() for a in alternatives)
        ):
            raise ConfigError(f"{where}: each fact must be a non-empty list of non-empty strings, got {fact!r}")
        facts.append(tuple(a.strip() for a in alternatives))
    return tuple(facts)


def select_questions(questions: list[GoldQuestion], subset: QuerySubset) -> list[GoldQuestion]:
    """The first N, a seeded random N (kept in file order), or the listed ids (in that order)."""
    if subset.limit is not None:
        return questions[: subset.limit]
    if subset.sample is not None:
        picked = set(random.Random(subset.seed).sample(range(len(questions)), min(subset.sample, len(questions))))
        return [q for i, q in enumerate(questions) if i in picked]
    if subset.ids is not None:
        by_id = {q.id: q for q in questions}
        missing = [i for i in subset.ids if i not in by_id]
        if missing:
            raise ConfigError(f"questions.ids: {len(missing)} ids are not in the gold set, e.g. {missing[0]!r}")
        return [by_id[i] for i in dict.fromkeys(subset.ids)]
    return list(questions)
