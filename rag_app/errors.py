"""Typed errors. Every user-facing failure is one of these, with a one-line fix."""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error rag_app raises on purpose."""


class ConfigError(RagError):
    """The YAML config or a component's parameters are invalid."""


class MissingDependencyError(ConfigError):
    """A selected backend needs an optional package that is not installed."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs the '{package}' package: pip install 'rag-app[{extra}]'"
        )
        self.package = package
        self.extra = extra


class FingerprintMismatchError(ConfigError):
    """The collection was built with a different embedder / chunker."""


class BackendError(RagError):
    """A backend (store, model server, API) failed or is unreachable."""


class InputError(RagError):
    """Bad user input: a corrupt file, an empty query, a wrong dimension."""


def one_line(exc: BaseException) -> str:
    """A single line describing ``exc`` (our errors are already written that way)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, RagError) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
