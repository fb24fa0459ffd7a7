"""Pipeline configuration: one YAML file chooses every backend.

Relative paths inside component params are resolved against the directory of
the YAML file, so a config works from any working directory. String values
may reference the environment as ``${VAR}`` or ``${VAR:-default}``; secrets
are referenced by variable *name* (``api_key_env: OPENAI_API_KEY``) and never
stored in the config itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rag_app import registry
from rag_app.errors import ConfigError
from rag_app.validation import first_problem

DEFAULT_LOADERS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentConfig(_Strict):
    """``type:`` picks a registered backend, ``params:`` are validated by it."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)


class SourcesConfig(_Strict):
    """Which files ingestion picks up and how each extension is loaded."""

    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=lambda: ["**/.*", "**/.*/**"])
    max_file_mb: float = Field(default=50.0, gt=0)
    max_chunks_per_file: int = Field(
        default=2000,
        gt=0,
        description="index at most this many chunks of one file (the rest is skipped with a warning); "
        "bounds the time and memory one huge file can take",
    )
    follow_symlinks: bool = Field(
        default=True,
        description="follow symbolic links whose target stays inside the ingested folders "
        "(links that lead outside are always refused)",
    )
    loaders: dict[str, ComponentConfig] = Field(default_factory=dict)

    def loader_for(self, suffix: str) -> ComponentConfig | None:
        suffix = suffix.lower()
        if suffix in self.loaders:
            return self.loaders[suffix]
        name = DEFAULT_LOADERS.get(suffix)
        return ComponentConfig(type=name) if name else None


class IngestConfig(_Strict):
    """Ingestion behaviour."""

    batch_size: int = Field(default=64, gt=0, description="chunks embedded/upserted per batch")
    prune: bool = Field(default=True, description="remove chunks of files that disappeared")
    state_dir: str = Field(default=".rag", description="where the sync manifest lives")


class RetrieverSpec(_Strict):
    """One first-stage retriever; several are fused."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0, description="its weight in fusion")


class FusionConfig(_Strict):
    """How the lists of several retrievers are combined."""

    method: Literal["rrf", "weighted"] = "rrf"
    k: float = Field(default=60.0, gt=0, description="RRF rank constant")


class QueryTransformConfig(_Strict):
    """Rewrites a query with the pipeline's generator before first-stage retrieval.

    ``type`` is a registered query transform (``multi_query``, ``hyde``); ``params`` are
    that backend's own ``Params``, checked here so a typo fails when the config loads.
    """

    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    cache_size: int = Field(default=256, ge=0, description="transformed queries kept (LRU); 0 disables the cache")

    @model_validator(mode="after")
    def _check_params(self) -> QueryTransformConfig:
        known = registry.names("query_transform")
        if self.type not in known:
            raise ValueError(f"query_transform.type {self.type!r} is not one of: {', '.join(known)}")
        _check_backend_params("query_transform", self.type, self.params, prefix=f"{self.type} params: ")
        return self


def _check_backend_params(kind: str, name: str, params: dict[str, Any], *, prefix: str) -> None:
    """Validate ``params`` against the registered backend's ``Params`` (a ValueError on one line)."""
    problem = registry.parse_params(kind, name, params)
    if isinstance(problem, str):
        raise ValueError(f"{prefix}{problem}")


class RetrievalConfig(_Strict):
    """Query-time knobs: retrievers, fusion, candidate depth, final top_k."""

    top_k: int = Field(default=5, gt=0, le=1000)
    retrievers: list[RetrieverSpec] = Field(
        default_factory=lambda: [RetrieverSpec(type="dense")], min_length=1
    )
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    candidates: int = Field(
        default=50, gt=0, le=10000, description="depth per retriever when fusing or reranking"
    )
    reranker: ComponentConfig | None = Field(
        default=None, description="re-scores the fused candidates, e.g. {type: bi_encoder}"
    )
    query_transform: QueryTransformConfig | None = Field(
        default=None, description="rewrite the query with the generator: {type: multi_query} or {type: hyde}"
    )
    mmr: dict[str, Any] | None = Field(
        default=None, description="diversify the final candidates with MMR, e.g. {lambda_mult: 0.7}"
    )

    @field_validator("mmr")
    @classmethod
    def _check_mmr(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_backend_params("mmr", "mmr", value, prefix="")
        return value


class JudgeConfig(_Strict):
    """``answer.judge``: the generator decides whether the sources answer the question."""

    threshold: float = Field(
        default=0.5, ge=0, le=1, description="abstain when P(the sources answer it) is below this"
    )
    cue: str = Field(
        default="Do the sources above contain the answer to the question? Answer Yes or No.",
        min_length=1,
        description="the yes/no question appended to the answer prompt",
    )
    caution: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="flag an answer as low-confidence (check it) when P(the sources answer it) is below this",
    )

    @model_validator(mode="after")
    def _caution_above_threshold(self) -> JudgeConfig:
        if self.caution is not None and self.caution < self.threshold:
            raise ValueError(
                f"answer.judge.caution ({self.caution}) is below threshold ({self.threshold}): such answers are "
                "already refused; set caution above threshold or remove it"
            )
        return self


class CitationCheckConfig(_Strict):
    """``answer.citations``: checking each cited sentence against its source."""

    check: bool = Field(default=True, description="drop citations whose source does not support the sentence")
    min_overlap: float = Field(
        default=0.5, ge=0, le=1, description="share of a sentence's content words its source must contain"
    )
    attach: bool = Field(
        default=True, description="cite the best supporting source for a sentence left without a citation"
    )


class AnswerConfig(_Strict):
    """How answers are produced from retrieved chunks."""

    template: str = Field(default="grounded", description="a shipped template name or a path to a template file")
    context_budget_tokens: int | None = Field(
        default=1200, gt=0, description="most prompt tokens for sources; lowest-ranked whole chunks are dropped"
    )
    excerpt_tokens: int | None = Field(
        default=None, gt=0, description="show each source as its best-matching sentences, at most this many tokens"
    )
    min_score: float | None = Field(
        default=None, description="abstain when the best retrieval score is below this (retriever's scale)"
    )
    max_tokens: int | None = Field(default=None, gt=0, description="answer length cap (default: generator's)")
    condense_history: bool | None = Field(
        default=None, description="rewrite follow-ups as standalone questions; None = on for hosted generators"
    )
    judge: JudgeConfig | None = Field(
        default=None, description="ask the generator whether the sources answer the question, e.g. {threshold: 0.5}"
    )
    citations: CitationCheckConfig = Field(default_factory=CitationCheckConfig)
    abstain_unsupported: bool = Field(
        default=False,
        description="answer \"not in your documents\" when no sentence of the answer is supported by a source",
    )


class ServerConfig(_Strict):
    """``server``: limits of ``rag serve`` (the HTTP API); every request beyond one gets a clear error."""

    max_request_mb: float = Field(
        default=1.0, gt=0, description="largest request body accepted (413 above it, before it is read whole)"
    )
    max_message_chars: int = Field(
        default=16_000, gt=0, description="longest chat message (the question or a history turn) in characters"
    )
    max_messages: int = Field(default=100, gt=0, description="most messages in one chat request")
    max_embedding_inputs: int = Field(default=256, gt=0, description="most strings in one /v1/embeddings request")
    max_embedding_input_chars: int = Field(
        default=16_000, gt=0, description="longest string accepted by /v1/embeddings, in characters"
    )
    max_concurrent_generations: int = Field(
        default=2, gt=0, description="chat requests answered at once; later ones wait in the queue"
    )
    max_queued_generations: int = Field(
        default=8, ge=0, description="chat requests that may wait for a turn; beyond that: 503 with Retry-After"
    )
    retry_after_s: int = Field(default=5, gt=0, description="the Retry-After sent with a 503 when the queue is full")


class UiConfig(_Strict):
    """``ui``: what the chat UI (``rag ui``) shows for this pipeline."""

    example_questions: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="questions offered on an empty chat page (default: derived from the documents' titles)",
    )


class PipelineConfig(_Strict):
    """The whole pipeline, as written in ``pipelines/*.yaml``."""

    name: str
    description: str = ""
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    chunker: ComponentConfig
    embedder: ComponentConfig
    store: ComponentConfig
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generator: ComponentConfig | None = None
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve_path(self, value: str | Path) -> Path:
        """Resolve a path from the config against the config file's directory."""
        path = Path(os.path.expanduser(str(value)))
        return path if path.is_absolute() else (self.base_dir / path).resolve()


ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if var in os.environ:
            return os.environ[var]
        if default is not None:
            return default
        raise ConfigError(f"{where} references ${{{var}}}, which is not set: export it or add it to .env")

    return ENV_REF.sub(sub, value)


def parse_config(data: dict[str, Any], *, base_dir: Path | None = None, origin: str = "config") -> PipelineConfig:
    """Validate a config mapping (already loaded from YAML)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    data = expand_env(data, origin.rsplit("/", 1)[-1])
    try:
        config = PipelineConfig(**data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {first_problem(exc, PipelineConfig)}") from exc
    config.base_dir = (base_dir or Path.cwd()).resolve()
    return config


def read_yaml(path: Path, *, what: str, examples: str) -> Any:
    """Parse a YAML file; a missing file or a syntax error is a one-line ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{what} file not found: {path} (see {examples} for examples)")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def load_config(path: str | Path) -> PipelineConfig:
    """Load and validate a pipeline YAML file (component params are checked by ``build_pipeline``)."""
    path = Path(path)
    data = read_yaml(path, what="config", examples="pipelines/")
    return parse_config(data or {}, base_dir=path.parent, origin=str(path))
