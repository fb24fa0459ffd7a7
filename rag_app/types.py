"""Plain data types shared by every stage (standard library only)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

Metadata = dict[str, Any]


@dataclass(frozen=True)
class Document:
    """One loaded source unit (a file, or one page/section of it).

    Attributes:
        doc_id: Stable id of the source (hash of its URI); shared by all parts of one file.
        source: The source URI or path as the user gave it (relative where possible).
        text: Extracted plain text.
        metadata: title, page, section, mtime, content_hash, format, ...
    """

    doc_id: str
    source: str
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that gets embedded and stored."""

    chunk_id: str
    doc_id: str
    source: str
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk returned by a search with its score (higher is better).

    ``scores`` keeps each stage's own score by name (``dense``, ``bm25``,
    ``rerank`` ...) when several stages contributed; ``score`` is the final one.
    """

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Filter:
    """One structured metadata condition: ``field op value``.

    ``op`` is one of ``eq``, ``ne``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``.
    ``field`` is ``doc_id``, ``source`` or a metadata key. Values are never
    interpolated into query strings unescaped; each store translates them.
    """

    field: str
    op: str
    value: Any


FILTER_OPS = frozenset({"eq", "ne", "in", "gt", "gte", "lt", "lte"})


@dataclass
class IngestReport:
    """What one ingestion run did."""

    files_seen: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    files_removed: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    embeddings_computed: int = 0
    seconds: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Message:
    """One chat turn; ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str


@dataclass(frozen=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the chunk it points at.

    ``supported`` is True when the citation check found that this source backs a
    sentence that cites it (citations that back none are removed from the answer),
    None when no check ran or the sentences citing it state nothing checkable;
    ``added`` marks a citation the check attached to an uncited sentence.
    """

    number: int
    chunk: Chunk
    score: float
    supported: bool | None = None
    added: bool = False


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, the source numbers it cites and whether they support it.

    ``supported`` is None for sentences that state nothing checkable (too short,
    no content words) and for uncited sentences when no source was tried
    (``answer.citations.attach`` off); an uncited sentence that no source
    supports is False. ``cited`` says whether the model cited the sentence itself
    (an attached citation does not count).
    """

    text: str
    citations: list[int]
    supported: bool | None
    support: float = 0.0
    cited: bool = True


@dataclass
class Answer:
    """A generated answer with the sources it was given and the ones it cited.

    Attributes:
        text: The answer text (invalid citation markers removed).
        citations: Valid ``[n]`` markers in order of first appearance.
        sources: Every chunk placed in the prompt, numbered from 1.
        invalid_citations: Numbers the model cited that were not given to it.
        abstained: True when the answer is "not in your documents" (see ``abstain_reason``).
        timings: Seconds per stage, e.g. ``retrieve``, ``prompt``, ``judge``, ``first_token`` (from
            the start of generation), ``generate``, ``total`` (from the question).
        usage: Token counts, e.g. ``prompt_tokens``, ``completion_tokens``.
        claims: The answer's sentences with their checked citations (empty when unchecked).
        unsupported_citations: Source numbers cited for a sentence they do not support
            (removed from ``text``).
        abstain_reason: ``no_hits``, ``min_score`` (retrieval below the floor), ``judge``
            (the generator judged the sources not to answer it), ``model`` (the model
            itself replied that the sources do not say) or ``unsupported`` (no sentence of
            the answer is supported by a source); None when it answered.
        answerable: The judge's P(the sources answer the question), when a judge ran.
        low_confidence: True when the judge let the answer through but its P(answerable) was
            below ``answer.judge.caution``: shown to the reader as "check this one".
        raw_text: The text as generated, before citations were checked (empty when abstained
            without generating).
        finish_reason: ``stop`` or ``length`` (``max_tokens`` ran out mid-answer), as the
            generator reported it; None when it did not or nothing was generated.
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[ScoredChunk] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    unsupported_citations: list[int] = field(default_factory=list)
    abstain_reason: str | None = None
    answerable: float | None = None
    low_confidence: bool = False
    raw_text: str = ""
    finish_reason: str | None = None


@dataclass(frozen=True)
class GenerationResult:
    """What one generator call produced: returned by ``generate``, and by a ``stream`` when it ends.

    ``finish_reason`` is ``stop`` (the model ended or a stop string was reached) or
    ``length`` (``max_tokens`` ran out). ``details`` holds backend-specific counters
    (llama.cpp: ``cached_tokens``, ``prompt_ms``, ``predicted_ms``).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    details: dict[str, float] = field(default_factory=dict)


TextStream = Generator[str, None, "GenerationResult | None"]
"""What ``Generator.stream`` returns: yields text pieces; its return value (``StopIteration.value``,
or ``yield from``'s result) is the call's :class:`GenerationResult`, or None when the backend cannot
tell (the caller then counts tokens itself)."""
