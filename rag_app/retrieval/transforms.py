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

from rag_app.config import HydeParams, MultiQueryParams, QueryTransformConfig
from rag_app.errors import ConfigError
from rag_app.generation.templates import load_task_template
from rag_app.protocols import Generator
from rag_app.retrieval.rerank import LRUCache

logger = logging.getLogger(__name__)

# "1. ", "2) ", "- ", "* ", "Query 2:", "Rewritten question 1 -" ... at the start of a line
_LINE_PREFIX = re.compile(
    r"^\s*(?:[-*•]+\s*|\(?\d{1,2}[.):](?=\s)\s*|(?:rewritten\s+)?(?:query|question|version)(?:\s*\d+)?\s*:\s*)+",
    re.IGNORECASE,
)
_ANSWER = re.compile(r"^(?:answer|response)\s*:", re.IGNORECASE)  # the model answered instead of rewriting
_QUOTES = "\"'“”‘’`"


class QueryTransform:
    """Expands one query into the list of queries to retrieve with."""

    def __init__(
        self, config: QueryTransformConfig, generator: Generator, *, base_dir: Path | None = None
    ) -> None:
        self.config = config
        self.params: MultiQueryParams | HydeParams = config.typed_params()
        self._generator = generator
        fields = ("question", "n") if isinstance(self.params, MultiQueryParams) else ("question",)
        self._template = load_task_template(
            self.params.template, fields, required=("question",), base_dir=base_dir
        )
        self._cache = LRUCache(config.cache_size)
        self.generations = 0

    @property
    def kind(self) -> str:
        return self.config.type

    def expand(self, query: str) -> list[str]:
        """The queries to retrieve with: the original (unless dropped) and the generated ones, deduplicated."""
        cached: tuple[str, ...] | None = self._cache.get(query)
        if cached is not None:
            return list(cached)
        try:
            generated = self._generate(query)
        except Exception as exc:  # a transform must never break retrieval
            logger.warning(
                "query transform %s failed (%s: %s); retrieving with the original query",
                self.kind, type(exc).__name__, _first_line(exc),
            )
            return [query]
        if not generated:
            logger.warning("query transform %s produced no usable text; retrieving with the original query", self.kind)
            return [query]
        queries = _dedupe([query, *generated] if self.params.include_original else generated)
        self._cache.put(query, tuple(queries))
        return queries

    def _generate(self, query: str) -> list[str]:
        self.generations += 1
        fields = {"question": query.strip()}
        if isinstance(self.params, MultiQueryParams):
            fields["n"] = str(self.params.n)
        reply = self._generator.generate(self._template.messages(fields), max_tokens=self.params.max_tokens).text
        if isinstance(self.params, MultiQueryParams):
            return parse_queries(reply, query, self.params.n)
        passage = " ".join(reply.split())
        return [passage] if passage else []


def build_query_transform(
    config: QueryTransformConfig | None, generator: Generator | None, *, base_dir: Path | None = None
) -> QueryTransform | None:
    """The configured transform, or None; a transform without a generator is a ConfigError."""
    if config is None:
        return None
    if generator is None:
        raise ConfigError(
            f"retrieval.query_transform {config.type!r} needs a generator; add a `generator:` block to the config"
        )
    return QueryTransform(config, generator, base_dir=base_dir)


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"
