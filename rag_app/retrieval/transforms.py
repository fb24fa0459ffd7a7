"""Query transforms: rewrite a query with the pipeline's generator before retrieval.

* ``multi_query``: the generator writes ``n`` alternative phrasings of the
  question, one per line.
* ``hyde`` (Gao et al., 2022, "Precise Zero-Shot Dense Retrieval without
  Relevance Labels"): the generator writes a short hypothetical passage that
  answers the question, and that passage is searched for.

The pipeline retrieves with every query returned by :meth:`QueryTransform.expand`
(the original first, when kept) and fuses the per-query lists with RRF. A
transform never breaks retrieval: if generation fails or returns nothing
usable, a warning is logged and the original query is used alone (and not
cached, so the next search tries again). Successful expansions are cached
per query string in a small LRU.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rag_app import registry
from rag_app.errors import ConfigError, one_line
from rag_app.generation.templates import load_task_template
from rag_app.protocols import Generator
from rag_app.retrieval.cache import LRUCache

if TYPE_CHECKING:
    from rag_app.config import QueryTransformConfig

logger = logging.getLogger(__name__)

# "1. ", "2) ", "- ", "* ", "Query 2:", "Rewritten question 1 -" ... at the start of a line
_LINE_PREFIX = re.compile(
    r"^\s*(?:[-*•]+\s*|\(?\d{1,2}[.):](?=\s)\s*|(?:rewritten\s+)?(?:query|question|version)(?:\s*\d+)?\s*:\s*)+",
    re.IGNORECASE,
)
_ANSWER = re.compile(r"^(?:answer|response)\s*:", re.IGNORECASE)  # the model answered instead of rewriting
_QUOTES = "\"'“”‘’`"


class _Params(Protocol):
    """What every transform's ``Params`` holds."""

    max_tokens: int
    include_original: bool
    template: str


class QueryTransform:
    """Expands one query into the list of queries to retrieve with (subclasses say how)."""

    kind: ClassVar[str]
    fields: ClassVar[tuple[str, ...]] = ("question",)

    def __init__(
        self,
        params: _Params,
        *,
        generator: Generator | None,
        cache_size: int = 256,
        base_dir: Path | None = None,
        **_: object,
    ) -> None:
        if generator is None:
            raise ConfigError(
                f"retrieval.query_transform {self.kind!r} needs a generator; add a `generator:` block to the config"
            )
        self.params = params
        self._generator = generator
        self._template = load_task_template(params.template, self.fields, required=("question",), base_dir=base_dir)
        self._cache = LRUCache(cache_size)
        self.generations = 0

    def expand(self, query: str) -> list[str]:
        """The queries to retrieve with: the original (unless dropped) and the generated ones, deduplicated."""
        cached: tuple[str, ...] | None = self._cache.get(query)
        if cached is not None:
            return list(cached)
        try:
            self.generations += 1
            generated = self._generate(query)
        except Exception as exc:  # a transform must never break retrieval
            logger.warning(
                "query transform %s failed (%s); retrieving with the original query", self.kind, one_line(exc)
            )
            return [query]
        if not generated:
            logger.warning("query transform %s produced no usable text; retrieving with the original query", self.kind)
            return [query]
        queries = _dedupe([query, *generated] if self.params.include_original else generated)
        self._cache.put(query, tuple(queries))
        return queries

    def _generate(self, query: str) -> list[str]:
        raise NotImplementedError


class MultiQueryTransform(QueryTransform):
    """``multi_query``: the generator rewrites the question ``n`` ways, one per line."""

    kind = "multi_query"
    fields = ("question", "n")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = Field(default=3, ge=1, le=10, description="alternative phrasings to generate")
        max_tokens: int = Field(default=64, gt=0, description="generation cap for all rewrites together")
        include_original: bool = Field(default=True, description="also retrieve with the question as typed")
        template: str = Field(default="multi_query", description="a shipped task template name or a .txt path")

    def __init__(self, params: Params, **context: Any) -> None:
        super().__init__(params, **context)
        self.n = params.n

    def _generate(self, query: str) -> list[str]:
        fields = {"question": query.strip(), "n": str(self.n)}
        reply = self._generator.generate(self._template.messages(fields), max_tokens=self.params.max_tokens).text
        return parse_queries(reply, query, self.n)


class HydeTransform(QueryTransform):
    """``hyde``: retrieve with a short hypothetical passage that answers the question."""

    kind = "hyde"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_tokens: int = Field(default=80, gt=0, description="length cap of the hypothetical passage")
        include_original: bool = Field(default=True, description="also retrieve with the question as typed")
        template: str = Field(default="hyde", description="a shipped task template name or a .txt path")

    def _generate(self, query: str) -> list[str]:
        messages = self._template.messages({"question": query.strip()})
        passage = " ".join(self._generator.generate(messages, max_tokens=self.params.max_tokens).text.split())
        return [passage] if passage else []


def build_query_transform(
    config: QueryTransformConfig | None, generator: Generator | None, *, base_dir: Path | None = None
) -> QueryTransform | None:
    """The configured transform, or None; a transform without a generator is a ConfigError."""
    if config is None:
        return None
    transform: QueryTransform = registry.create(
        "query_transform", config.type, config.params,
        generator=generator, cache_size=config.cache_size, base_dir=base_dir,
    )
    return transform


def parse_queries(reply: str, original: str, n: int) -> list[str]:
    """Up to ``n`` distinct queries from a one-per-line reply (numbering, bullets, quotes stripped)."""
    seen = {_norm(original)}
    queries: list[str] = []
    for line in reply.splitlines():
        text = _LINE_PREFIX.sub("", line).strip().strip(_QUOTES).strip()
        if not text or text.endswith(":") or _ANSWER.match(text) or _norm(text) in seen:
            continue
        seen.add(_norm(text))
        queries.append(text)
        if len(queries) == n:
            break
    return queries


def _dedupe(queries: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for q in queries:
        if _norm(q) not in seen:
            seen.add(_norm(q))
            out.append(q)
    return out


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
