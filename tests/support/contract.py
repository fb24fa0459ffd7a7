"""What the per-protocol contract suites share: backend params, the OpenAI-wire stub, known violations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest


def backend_param(name: str, backends: Mapping[str, Any]) -> Any:
    """``pytest.param(name)``, marked slow when its factory says the backend loads a real model."""
    backend = backends.get(name)
    marks = [pytest.mark.slow] if backend is not None and backend.slow else []
    return pytest.param(name, id=name, marks=marks)


@contextmanager
def openai_stub_env(key_env: str, reply: str | None = None) -> Iterator[str]:
    """The OpenAI-wire stub's ``/v1`` URL, its API key in ``$key_env`` while the block runs."""
    from tests.support.openai_stub import OpenAIStub

    with OpenAIStub() as stub, pytest.MonkeyPatch.context() as mp:
        if reply is not None:
            stub.behaviour.reply = reply
        mp.setenv(key_env, stub.api_key)
        yield stub.base_url


def mark_known_violations(
    request: pytest.FixtureRequest, fixture: str, violations: Mapping[tuple[str, str], str]
) -> None:
    """Mark the running test a strict expected failure when (backend, test) is in ``violations``."""
    if fixture not in request.fixturenames:
        return
    name = request.node.callspec.params.get(fixture)
    reason = violations.get((name, request.node.originalname))
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=f"{name}: {reason}"))
