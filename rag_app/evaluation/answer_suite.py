"""Answer suites: gold questions with key facts, the pipelines (with generators) to answer them, gates.

An answer suite is a suite file whose dataset has ``type: answers``::

    name: answers
    dataset: {type: answers, path: ../datasets/handbook-answers, corpus: ../../data/corpus}
    pipelines:
      - {label: local, config: ../../pipelines/local.yaml}
    questions: {limit: 20}               # or {sample: 20, seed: 1} or {ids: [a001, u003]}
    fail_under: {correct: 0.75, citation_precision: 0.9}
    fail_over: {false_abstention: 0.1, ttft_p50_s: 4}

Like retrieval suites, every key is validated (a typo lists the valid ones), gate
names are checked against the answer metrics, and every pipeline must have a
generator: that is checked when the suite loads, before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from rag_app.config import expand_env
from rag_app.errors import ConfigError
from rag_app.evaluation.answer_metrics import check_gate_keys
from rag_app.evaluation.suite import (
    PipelineBase,
    QuerySubset,
    SuiteBase,
    _Strict,
    dataset_env_vars,
    unique_labels,
)
from rag_app.validation import first_problem


def _under(values: dict[str, float]) -> dict[str, float]:
    return check_gate_keys(values, "higher")


def _over(values: dict[str, float]) -> dict[str, float]:
    return check_gate_keys(values, "lower")


class AnswerDatasetSpec(_Strict):
    """``path`` holds ``questions.jsonl``; ``corpus`` is the folder ingested with the pipeline's loaders.

    Each question's ``sources`` are file paths relative to ``corpus`` (as ``files`` qrels).
    """

    type: Literal["answers"]
    path: str = Field(description="folder holding questions.jsonl")
    corpus: str = Field(description="the document folder to ingest; sources are relative to it")
    name: str | None = Field(default=None, description="defaults to the folder name")
    questions_file: str = "questions.jsonl"

    _env_vars: list[str] = PrivateAttr(default_factory=list)

    @property
    def env_vars(self) -> list[str]:
        return list(self._env_vars)


class AnswerPipelineSpec(PipelineBase):
    """A pipeline of an answer suite, with gates of its own."""

    fail_under: dict[str, float] = Field(default_factory=dict, description="higher-is-better gates")
    fail_over: dict[str, float] = Field(default_factory=dict, description="lower-is-better gates")

    _under = field_validator("fail_under")(_under)
    _over = field_validator("fail_over")(_over)


class AnswerSuite(SuiteBase):
    """A whole answer suite file."""

    dataset: AnswerDatasetSpec
    pipelines: list[AnswerPipelineSpec] = Field(min_length=1)
    questions: QuerySubset = Field(default_factory=QuerySubset, description="limit, sample (+ seed) or ids")
    warmup: bool = Field(default=True, description="one untimed search + 1-token generation before timing")
    fail_under: dict[str, float] = Field(default_factory=dict)
    fail_over: dict[str, float] = Field(default_factory=dict)

    _under = field_validator("fail_under")(_under)
    _over = field_validator("fail_over")(_over)

    @model_validator(mode="after")
    def _unique_labels(self) -> AnswerSuite:
        unique_labels([p.label for p in self.pipelines])
        return self


def parse_answer_suite(
    data: Any, *, base_dir: Path, origin: str = "suite", check_generators: bool = True
) -> AnswerSuite:
    """Validate an answer suite mapping; with ``check_generators`` every pipeline config is resolved too."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    env_vars = dataset_env_vars(data)
    try:
        suite = AnswerSuite(**expand_env(data, Path(origin).name))
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {first_problem(exc, AnswerSuite)}") from exc
    suite._base_dir = base_dir.resolve()
    suite.dataset._env_vars = env_vars
    if check_generators:
        require_generators(suite, origin)
    return suite


def require_generators(suite: AnswerSuite, origin: str) -> None:
    """One-line ConfigError when a pipeline (after its overrides) has no ``generator:``."""
    from rag_app.evaluation.configs import resolve_pipeline

    for spec in suite.pipelines:
        if resolve_pipeline(suite, spec).generator is None:
            raise ConfigError(
                f"{origin}: pipeline {spec.label!r} ({suite.resolve(spec.config)}) has no generator; an answer "
                "suite needs one: add a `generator:` block to the config or to the pipeline's `overrides`"
            )
