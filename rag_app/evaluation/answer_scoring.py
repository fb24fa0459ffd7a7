"""Scoring one generated answer against its gold question: facts, citations, abstention.

Everything is string matching on normalised text (no model judges), so a score
can be read and checked by hand in answers.jsonl:

* :func:`normalise`: citation markers removed, digit-group separators dropped
  (``50,257`` = ``50257``), NFKC (superscripts and full-width forms become plain
  characters), every unicode dash becomes ``-``, ``^`` removed (``10^-4`` = ``10⁻⁴``),
  a hyphen between letters becomes a space (``byte-level`` = ``byte level``),
  case folded, whitespace collapsed.
* A fact alternative is *present* when its normalised form occurs in the
  normalised text starting at a word boundary, and, when it ends in a digit, not
  followed by another digit (``12`` is not found in ``120``; ``layer`` is found in ``layers``).
* Sentences: split after ``.``, ``!`` or ``?`` followed by space and a character
  that is not lower case, and at line breaks; a marker right after the sentence
  end (``... end. [2] Next``) and a line holding only markers belong to the
  sentence before. Every (sentence, cited number) pair is judged once.

The sentence rules are the scorer's own, not the pipeline's citation check
(``rag_app.generation.support``), so that a bug in the system under test is
not shared by the judge; markers are parsed as the pipeline parses them.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rag_app.evaluation.answers import AnswerDataset, GoldQuestion
from rag_app.generation.citations import MARKER, marker_numbers
from rag_app.types import Answer

_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\u00a0\u202f\u2009](\d{3}))+(?![\d]|[.,]\d)")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_LETTER_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_BOUNDARY = re.compile(rf"(?<=[.!?])((?:[\"')\]]*)(?:\s*{MARKER.pattern})*)\s+(?=\S)")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "fig.", "eq.", "approx.", "no.", "al.")
_ANSWER_FIELDS = {"text", "citations", "sources", "invalid_citations", "abstained", "timings", "usage"}
_CITATION_FIELDS = {"number", "chunk", "score"}


def normalise(text: str) -> str:
    """Text as facts are matched in it (see the module docstring)."""
    text = MARKER.sub(" ", text)
    text = _GROUPED.sub(lambda m: re.sub(r"[,\u00a0\u202f\u2009]", "", m.group(0)), text)
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).replace("^", "")
    text = _LETTER_HYPHEN.sub(" ", text.casefold())
    return " ".join(text.split())


def contains(normalised_text: str, alternative: str) -> bool:
    """Whether ``alternative`` occurs in already-normalised text (word start; no digit run-on)."""
    alt = normalise(alternative)
    if not alt:
        return False
    start = r"(?<!\w)" if alt[0].isalnum() else ""
    end = r"(?!\d|[.,]\d)" if alt[-1].isdigit() else ""
    return re.search(start + re.escape(alt) + end, normalised_text) is not None


def fact_matches(normalised_text: str, facts: Sequence[Sequence[str]]) -> list[str | None]:
    """For each fact, the first alternative present in the text (None when none is)."""
    return [next((a for a in fact if contains(normalised_text, a)), None) for fact in facts]


def cited_numbers(text: str) -> list[int]:
    """The numbers of every ``[n]``, ``[n, m]``, ``[n-m]`` marker in ``text``, each once, in order."""
    out: dict[int, None] = {}
    for match in MARKER.finditer(text):
        out.update(dict.fromkeys(marker_numbers(match) or []))
    return list(out)


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer with their markers (see the module docstring for the rules)."""
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not MARKER.sub("", line).strip(" \t-*•.,;:") and out:  # a line of markers only
            out[-1] = f"{out[-1]} {line.strip()}"
            continue
        start = 0
        for match in _BOUNDARY.finditer(line):
            head = line[start : match.start()]
            following = line[match.end() : match.end() + 1]
            if following.islower() or head.casefold().endswith(_ABBREVIATIONS):
                continue
            out.append((head + match.group(1)).strip())
            start = match.end()
        if line[start:].strip():
            out.append(line[start:].strip())
    return out


@dataclass
class QuestionResult:
    """Everything measured for one question and one pipeline (one line of answers.jsonl)."""

    gold: GoldQuestion
    text: str
    abstained: bool
    facts_found: list[str]
    facts_missing: list[list[str]]
    citations: list[dict[str, Any]]
    pairs_total: int
    pairs_correct: int
    prompt_sources: list[str]
    invalid_citations: list[int]
    ttft_s: float
    total_s: float
    timings: dict[str, float]
    values: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        g = self.gold
        return {
            "id": g.id,
            "question": g.question,
            "kind": g.kind,
            "answerable": g.answerable,
            "answer": self.text,
            "abstained": self.abstained,
            "values": self.values,
            "facts_found": self.facts_found,
            "facts_missing": self.facts_missing,
            "citations": self.citations,
            "pairs_total": self.pairs_total,
            "pairs_correct": self.pairs_correct,
            "expected_sources": list(g.sources),
            "prompt_sources": self.prompt_sources,
            "invalid_citations": self.invalid_citations,
            "ttft_s": self.ttft_s,
            "total_s": self.total_s,
            "timings": self.timings,
            "reference": g.reference,
            "why": g.why,
            "gold_extra": g.extra,
            "extra": self.extra,
        }


def score_answer(
    gold: GoldQuestion, answer: Answer, dataset: AnswerDataset, *, ttft_s: float, total_s: float
) -> QuestionResult:
    """All per-question values (see eval/README.md, "Answer suites", for the definitions)."""
    norm = normalise(answer.text)
    found = fact_matches(norm, gold.facts) if not answer.abstained else [None] * len(gold.facts)
    relpaths = [dataset.relpath(h.chunk) for h in answer.sources]
    chunk_norms = [normalise(h.chunk.text) for h in answer.sources]
    pair_marks: dict[int, list[bool]] = {}
    for sentence in split_sentences(answer.text):
        here = [f for f, hit in zip(gold.facts, fact_matches(normalise(sentence), gold.facts), strict=True) if hit]
        for n in cited_numbers(sentence):
            if not 1 <= n <= len(answer.sources):
                continue
            if here:
                ok = any(contains(chunk_norms[n - 1], alt) for fact in here for alt in fact)
            else:
                ok = relpaths[n - 1] in gold.sources
            pair_marks.setdefault(n, []).append(ok)
    citations = [_citation_json(c, relpaths, pair_marks.get(c.number, [])) for c in answer.citations]
    total = sum(len(v) for v in pair_marks.values())
    good = sum(sum(v) for v in pair_marks.values())
    values: dict[str, float] = {"ttft_s": ttft_s, "total_s": total_s}
    if gold.answerable:
        values["correct"] = float(not answer.abstained and all(x is not None for x in found))
        values["fact_recall"] = sum(x is not None for x in found) / len(gold.facts) if gold.facts else 0.0
        values["false_abstention"] = float(answer.abstained)
        values["cited"] = float(not answer.abstained and good > 0)
        values["source_in_prompt"] = float(any(r in gold.sources for r in relpaths))
        if not answer.abstained and total:
            values["citation_precision"] = good / total
    else:
        values["abstention"] = float(answer.abstained)
    counted = gold.answerable and not answer.abstained
    return QuestionResult(
        gold=gold,
        text=answer.text,
        abstained=answer.abstained,
        facts_found=[x for x in found if x is not None],
        facts_missing=[list(f) for f, x in zip(gold.facts, found, strict=True) if x is None],
        citations=citations,
        pairs_total=total if counted else 0,
        pairs_correct=good if counted else 0,
        prompt_sources=relpaths,
        invalid_citations=list(answer.invalid_citations),
        ttft_s=ttft_s,
        total_s=total_s,
        timings=dict(answer.timings),
        values=values,
        extra=answer_extras(answer),
    )


def _citation_json(citation: Any, relpaths: list[str], marks: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": citation.number,
        "chunk_id": citation.chunk.chunk_id,
        "relpath": relpaths[citation.number - 1] if 0 < citation.number <= len(relpaths) else None,
        "score": citation.score,
        "pairs": len(marks),
        "correct_pairs": sum(marks),
        "correct": bool(marks) and all(marks),
        "supported": getattr(citation, "supported", None),
    }
    if dataclasses.is_dataclass(citation):
        for f in dataclasses.fields(citation):
            if f.name not in _CITATION_FIELDS and f.name not in out:
                out[f.name] = _jsonable(getattr(citation, f.name))
    return out


def answer_extras(answer: Answer) -> dict[str, Any]:
    """Fields an Answer carries beyond the basic ones (claims, abstain_reason ...), as JSON data."""
    return {
        f.name: _jsonable(getattr(answer, f.name)) for f in dataclasses.fields(answer) if f.name not in _ANSWER_FIELDS
    }


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "chunk_id"):
            return value.chunk_id
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
