"""Eval suites: one YAML file naming a dataset, the pipelines to run on it, metrics and gates.

Relative paths in a suite resolve against the suite file's directory (as in
pipeline configs), and string values may reference the environment as
``${VAR}`` or ``${VAR:-default}``. Every model forbids unknown keys, so a typo
fails with the list of valid keys instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rag_app.config import ENV_REF, expand_env, read_yaml
from rag_app.errors import ConfigError
from rag_app.evaluation.metrics import DEFAULT_CUTOFFS, DEFAULT_FAMILIES, MetricName, expand_metrics
from rag_app.validation import first_problem

if TYPE_CHECKING:
    from rag_app.evaluation.answer_suite import AnswerSuite

_LABEL = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_metric_keys(values: dict[str, float]) -> dict[str, float]:
    return {MetricName.parse(k, need_cutoff=True).key: v for k, v in values.items()}


class DatasetSpec(_Strict):
    """Where the queries, relevance judgements and documents are.

    ``beir``: ``path`` holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
    ``files``: ``corpus`` is a folder ingested with the pipeline's own loaders; ``path``
    holds ``queries.jsonl`` and ``qrels/<split>.tsv`` keyed by file path relative to ``corpus``.
    """

    type: Literal["beir", "files"]
    path: str = Field(description="dataset folder (queries, qrels; corpus.jsonl for beir)")
    name: str | None = Field(default=None, description="defaults to the folder name")
    corpus: str | None = Field(default=None, description="files: the document folder to ingest")
    split: str = "test"
    queries_file: str = "queries.jsonl"
    qrels_file: str | None = Field(default=None, description="default: qrels/<split>.tsv")

    _env_vars: list[str] = PrivateAttr(default_factory=list)

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value == "answers":
            raise ValueError("an 'answers' dataset makes an answer suite; load it with load_suite (rag eval SUITE)")
        if value not in ("beir", "files"):
            raise ValueError(f"unknown dataset type {value!r}; valid: answers, beir, files")
        return value

    @model_validator(mode="after")
    def _corpus_for_files(self) -> DatasetSpec:
        if self.type == "files" and not self.corpus:
            raise ValueError("dataset type 'files' needs 'corpus': the folder of documents to ingest")
        if self.type == "beir" and self.corpus:
            raise ValueError("dataset type 'beir' reads corpus.jsonl from 'path'; remove 'corpus'")
        return self

    @property
    def env_vars(self) -> list[str]:
        """Environment variables referenced by ``path``/``corpus`` (named in 'not found' errors)."""
        return list(self._env_vars)


class Published(_Strict):
    """Reference numbers to print next to the measured ones."""

    source: str
    metrics: dict[str, float]
    tolerance: float | None = Field(default=None, ge=0, description="allowed |measured - published|")

    _keys = field_validator("metrics")(_check_metric_keys)


class PipelineBase(_Strict):
    """One pipeline config to evaluate, with overrides deep-merged over it."""

    label: str = Field(pattern=_LABEL)
    config: str = Field(description="pipeline YAML, relative to the suite file")
    overrides: dict[str, Any] = Field(default_factory=dict)


class PipelineSpec(PipelineBase):
    """A pipeline of a retrieval suite (published reference numbers and gates of its own)."""

    published: Published | None = None
    fail_under: dict[str, float] = Field(default_factory=dict)

    _keys = field_validator("fail_under")(_check_metric_keys)


class QuerySubset(_Strict):
    """Evaluate a subset of the judged queries: the first N, a random N, or given ids."""

    limit: int | None = Field(default=None, gt=0, description="the first N judged queries, in file order")
    sample: int | None = Field(default=None, gt=0, description="N judged queries drawn with `seed`")
    ids: list[str] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _one_way(self) -> QuerySubset:
        chosen = [k for k in ("limit", "sample", "ids") if getattr(self, k) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose one of limit, sample, ids (got {', '.join(chosen)})")
        return self


class SuiteBase(_Strict):
    """What every suite has: a name, and paths resolved against the suite file's folder."""

    name: str = Field(pattern=_LABEL)
    description: str = ""

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def source(self) -> Path | None:
        return self._source

    def resolve(self, value: str) -> Path:
        """A path from the suite, resolved against the suite file's directory."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self._base_dir / path).resolve()


def unique_labels(labels: list[str]) -> None:
    """Raise ValueError naming the repeated pipeline labels, if any."""
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"pipeline labels must be unique; repeated: {', '.join(dupes)}")


class Suite(SuiteBase):
    """A whole retrieval eval suite file."""

    dataset: DatasetSpec
    pipelines: list[PipelineSpec] = Field(min_length=1)
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_FAMILIES))
    cutoffs: list[int] = Field(default_factory=lambda: list(DEFAULT_CUTOFFS), min_length=1)
    depth: int | None = Field(default=None, gt=0, le=10000, description="chunks retrieved per query")
    queries: QuerySubset = Field(default_factory=QuerySubset)
    fail_under: dict[str, float] = Field(default_factory=dict)

    _keys = field_validator("fail_under")(_check_metric_keys)

    @field_validator("cutoffs")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(k <= 0 for k in value):
            raise ValueError("cut-offs must be positive integers")
        return sorted(set(value))

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            MetricName.parse(name, need_cutoff=False)
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> Suite:
        if self.depth is not None and self.depth < max(self.cutoffs):
            raise ValueError(f"depth ({self.depth}) must be at least the largest cut-off ({max(self.cutoffs)})")
        unique_labels([p.label for p in self.pipelines])
        return self

    def metric_names(self, extra_keys: Iterable[str] = ()) -> list[MetricName]:
        """Every metric to compute: suite metrics x cut-offs, plus those gates and references name."""
        extra = set(self.fail_under) | set(extra_keys)
        for p in self.pipelines:
            extra |= set(p.fail_under)
            if p.published:
                extra |= set(p.published.metrics)
        return expand_metrics(self.metrics, self.cutoffs, sorted(extra))

    def retrieval_depth(self) -> int:
        """Chunks to retrieve per query: ``depth`` or max(largest cut-off, 100)."""
        return self.depth or max(max(self.cutoffs), 100)


def parse_suite(data: Any, *, base_dir: Path, origin: str = "suite") -> Suite:
    """Validate a retrieval suite mapping (already loaded from YAML)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    env_vars = dataset_env_vars(data)
    expanded = expand_env(data, Path(origin).name)
    try:
        suite = Suite(**expanded)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {first_problem(exc, Suite)}") from exc
    suite._base_dir = base_dir.resolve()
    suite.dataset._env_vars = env_vars
    return suite


def dataset_env_vars(data: dict[str, Any]) -> list[str]:
    """The ``${VAR}`` names in the raw ``dataset.path`` / ``dataset.corpus`` (named in 'not found' errors)."""
    raw = data.get("dataset")
    raw_dataset: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return [m.group(1) for key in ("path", "corpus") for m in ENV_REF.finditer(str(raw_dataset.get(key) or ""))]


def is_answer_suite_data(data: Any) -> bool:
    """Whether a loaded suite mapping is an answer suite (``dataset: {type: answers}``)."""
    dataset = data.get("dataset") if isinstance(data, dict) else None
    return isinstance(dataset, dict) and dataset.get("type") == "answers"


def load_suite(path: str | Path) -> Suite | AnswerSuite:
    """Load and validate an eval suite YAML file (errors are one-line ``ConfigError``s).

    ``dataset: {type: answers}`` makes it an answer suite
    (:class:`~rag_app.evaluation.answer_suite.AnswerSuite`); anything else is a retrieval suite.
    """
    path = Path(path)
    data = read_yaml(path, what="suite", examples="eval/suites/")
    suite: Suite | AnswerSuite
    if is_answer_suite_data(data):
        from rag_app.evaluation.answer_suite import parse_answer_suite

        suite = parse_answer_suite(data, base_dir=path.parent, origin=str(path))
    else:
        suite = parse_suite(data or {}, base_dir=path.parent, origin=str(path))
    suite._source = path.resolve()
    return suite
