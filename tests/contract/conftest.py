"""Store fixtures for the VectorStore contract suite.

``store_factory`` is parametrized over every store backend. Each param is a
:class:`StoreBackend`; backends that need something this machine may not have
(a Milvus server, a Pinecone-protocol server) skip with a visible reason.

To add a backend: append a ``StoreBackend`` to ``BACKENDS`` with its registry
name, a ``params(ctx)`` builder, and ``requires`` returning a skip reason or
``None``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rag_app import registry


@dataclass(frozen=True)
class StoreBackend:
    """How to build one store backend for the contract tests."""

    id: str
    kind: str
    params: Callable[[StoreContext], dict[str, Any]]
    persistent: bool = True
    requires: Callable[[], str | None] = lambda: None


@dataclass
class StoreContext:
    """Per-test locations handed to ``StoreBackend.params``."""

    tmp_path: Path
    shared_dir: Path
    collection: str = field(default_factory=lambda: f"c_{uuid.uuid4().hex[:12]}")


def _needs_env(var: str, example: str) -> Callable[[], str | None]:
    return lambda: None if os.environ.get(var) else f"set {var}={example} to run against it"


def _needs_registered(name: str, var: str, example: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if name not in registry.names("store"):
            return f"no {name!r} store registered yet"
        return _needs_env(var, example)()

    return check


BACKENDS = [
    StoreBackend("memory", "memory", lambda c: {"path": str(c.tmp_path / "store" / "chunks")}),
    StoreBackend("memory-ephemeral", "memory", lambda c: {}, persistent=False),
    # One shared .db file for the session (one Lite server), one collection per test.
    StoreBackend(
        "milvus-lite", "milvus",
        lambda c: {"uri": str(c.shared_dir / "x.db"), "collection": c.collection},
    ),
    StoreBackend(
        "milvus-server", "milvus",
        lambda c: {"uri": os.environ["RAG_TEST_MILVUS_URI"], "collection": c.collection},
        requires=_needs_env("RAG_TEST_MILVUS_URI", "http://127.0.0.1:19530"),
    ),
    StoreBackend(
        "pinecone-protocol", "pinecone",
        lambda c: {"host": os.environ["RAG_TEST_PINECONE_HOST"], "index": c.collection},
        requires=_needs_registered("pinecone", "RAG_TEST_PINECONE_HOST", "http://127.0.0.1:5080"),
    ),
]


class StoreFactory:
    """Builds stores of one backend over the same location (so they see the same data)."""

    def __init__(self, backend: StoreBackend, ctx: StoreContext) -> None:
        self.backend = backend
        self.ctx = ctx
        self.persistent = backend.persistent
        self.made: list[Any] = []

    @property
    def id(self) -> str:
        return self.backend.id

    def params(self, **overrides: Any) -> dict[str, Any]:
        return {**self.backend.params(self.ctx), **overrides}

    def make(self, **overrides: Any) -> Any:
        """A new store via the registry (constructors do no I/O)."""
        params = self.params(**overrides)
        store = registry.create("store", self.backend.kind, params, base_dir=self.ctx.tmp_path)
        self.made.append(store)
        return store

    def cleanup(self) -> None:
        for store in self.made:
            try:
                if self.backend.id not in {"memory", "memory-ephemeral", "milvus-lite"}:
                    store.drop()  # remote servers keep collections; do not leak them
            finally:
                store.close()


@pytest.fixture(scope="session")
def store_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory shared by the whole session (one Milvus Lite file for all tests)."""
    return tmp_path_factory.mktemp("stores")


@pytest.fixture(scope="session")
def milvus_lite_keeper(store_shared_dir: Path) -> Iterator[None]:
    """Hold the shared Lite file open for the session.

    Without it, each test's ``close()`` stops the Lite server (as it should) and
    the next test pays its start-up again.
    """
    params = {"uri": str(store_shared_dir / "x.db"), "collection": "keeper"}
    keeper = registry.create("store", "milvus", params)
    keeper.count()
    yield
    keeper.close()


def _param(backend: StoreBackend) -> Any:
    return pytest.param(backend, id=backend.id)


@pytest.fixture(params=[_param(b) for b in BACKENDS])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, store_shared_dir: Path
) -> Iterator[StoreFactory]:
    """A :class:`StoreFactory` for each registered backend (skipped where unavailable)."""
    backend: StoreBackend = request.param
    reason = backend.requires()
    if reason:
        pytest.skip(f"{backend.id}: {reason}")
    if backend.kind == "milvus":
        pytest.importorskip("pymilvus", reason="milvus: pip install 'rag-app[milvus]'")
    if backend.id == "milvus-lite":
        request.getfixturevalue("milvus_lite_keeper")
    factory = StoreFactory(backend, StoreContext(tmp_path, store_shared_dir))
    yield factory
    factory.cleanup()
