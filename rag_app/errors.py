"""Typed errors. Every user-facing failure is one of these, with a one-line fix.

Which failure is which class (``rag serve`` answers a BackendError with 502
``api_error`` and any other RagError with 400 ``invalid_request_error``; the
CLI exits 2 on all of them):

==========================================================  ==========================
failure                                                     class
==========================================================  ==========================
invalid YAML, unknown key, bad parameter value              ConfigError
API key unset, rejected (401) or denied (403)               ConfigError
optional package not installed                              MissingDependencyError
collection built with another embedder / chunker            FingerprintMismatchError
collection built with another metric                        ConfigError
corrupt or unreadable input file, empty query, bad filter   InputError
request rejected by the service as invalid (400, 413, 422)  InputError
server unreachable, timeout, rate limit (429), 5xx          BackendError
model that cannot be loaded, model not found at the server  BackendError
==========================================================  ==========================
"""

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


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ("" when there is none)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def one_line(exc: BaseException, *, type_name: bool = True) -> str:
    """A single line describing ``exc``: the first line of its message.

    Our errors are already written that way. Any other exception gets its type
    name in front unless ``type_name`` is False; one without a message is its
    type name.
    """
    first = first_line(str(exc))
    if first and (isinstance(exc, RagError) or not type_name):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
