"""Store fixtures for the VectorStore contract suite.

``store_factory`` is parametrized over every store backend. Each param is a
:class:`StoreBackend`; backends that need a server get it from a session
fixture that starts a real one on 127.0.0.1 (or skips with a visible reason):

* ``milvus-server``: Milvus 2.3.5 standalone from PyPI ``milvus``, in a
  loopback-only network namespace (``RAG_TEST_MILVUS_URI`` uses yours instead);
* ``milvus-lite-server``: ``milvus-lite server --host 127.0.0.1``;
* ``pinecone-protocol``: the official ``pinecone`` SDK against the strict
  Pinecone-API server in ``tests/support/pinecone_server.py`` (one index per test,
  created through its control plane).

To add a backend: append a ``StoreBackend`` to ``BACKENDS`` with its registry
name, a ``params(ctx)`` builder, and ``server`` naming the session fixture that
yields its address (or ``requires`` returning a skip reason or ``None``).
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
from tests.support import pinecone_server
from tests.support.milvus_server import (
    RunningServer,
    ServerUnavailable,
    start_milvus_lite_server,
    start_milvus_standalone,
)


@dataclass(frozen=True)
class StoreBackend:
    """How to build one store backend for the contract tests."""

    id: str
    kind: str
    params: Callable[[StoreContext], dict[str, Any]]
    persistent: bool = True
    requires: Callable[[], str | None] = lambda: None
    server: str | None = None  # session fixture yielding the server address (or skipping)
    remote: bool = False  # keeps data outside the test's tmp dir: drop it after the test


@dataclass
class StoreContext:
    """Per-test locations handed to ``StoreBackend.params``."""

    tmp_path: Path
    shared_dir: Path
    collection: str = field(default_factory=lambda: f"c_{uuid.uuid4().hex[:12]}")
    server: str = ""  # the backend's server address, when it has one

    @property
    def index_name(self) -> str:
        """``collection`` spelled as a Pinecone index name (lowercase, digits, hyphens)."""
        return self.collection.replace("_", "-")


def _needs_module(name: str, extra: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            __import__(name)
        except ImportError:
            return f"{name} is not installed: pip install 'rag-app[{extra}]'"
        return None

    return check


def _pinecone_params(c: StoreContext) -> dict[str, Any]:
    return {
        "index": c.index_name, "namespace": "contract", "controller_host": c.server, "create_index": True,
        "api_key_env": pinecone_server.API_KEY_ENV, "timeout_s": 10, "retries": 2, "backoff_s": 0.05,
    }


BACKENDS = [
    StoreBackend("memory", "memory", lambda c: {"path": str(c.tmp_path / "store" / "chunks")}),
    StoreBackend("memory-ephemeral", "memory", lambda c: {}, persistent=False),
    # One shared .db file for the session (one Lite server), one collection per test.
    StoreBackend(
        "milvus-lite", "milvus",
        lambda c: {"uri": str(c.shared_dir / "x.db"), "collection": c.collection},
        requires=_needs_module("pymilvus", "milvus"),
    ),
    # The same, with the analysed text field, sparse field and BM25 function (milvus_bm25).
    StoreBackend(
        "milvus-lite-fulltext", "milvus",
        lambda c: {"uri": str(c.shared_dir / "x.db"), "collection": c.collection, "full_text": True},
        requires=_needs_module("pymilvus", "milvus"),
    ),
    StoreBackend(
        "milvus-server", "milvus", lambda c: {"uri": c.server, "collection": c.collection},
        requires=_needs_module("pymilvus", "milvus"), server="milvus_server_uri", remote=True,
    ),
    StoreBackend(
        "milvus-lite-server", "milvus", lambda c: {"uri": c.server, "collection": c.collection},
        requires=_needs_module("pymilvus", "milvus"), server="milvus_lite_server_uri", remote=True,
    ),
    StoreBackend(
        "pinecone-protocol", "pinecone", _pinecone_params,
        requires=_needs_module("pinecone", "pinecone"), server="pinecone_server_url", remote=True,
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
                if self.backend.remote:
                    store.drop()  # servers keep collections; do not leak them
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


def _server(name: str, start: Callable[[Path], RunningServer], tmp: Path) -> Iterator[str]:
    try:
        server = start(tmp)
    except ServerUnavailable as exc:
        yield f"skip:{name}: {exc}"
        return
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus 2.3 standalone server on 127.0.0.1 for the session (``RAG_TEST_MILVUS_URI`` wins)."""
    if os.environ.get("RAG_TEST_MILVUS_URI"):
        yield os.environ["RAG_TEST_MILVUS_URI"]
        return
    yield from _server("milvus 2.3 standalone", start_milvus_standalone, tmp_path_factory.mktemp("milvus"))


@pytest.fixture(scope="session")
def milvus_lite_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``milvus-lite server --host 127.0.0.1`` on a free port, for the session."""
    yield from _server("milvus-lite server", start_milvus_lite_server, tmp_path_factory.mktemp("lite_srv"))


@pytest.fixture(scope="session")
def pinecone_server_url() -> Iterator[str]:
    """The strict Pinecone-API server (control plane URL); the SDK key is set for the session."""
    with pinecone_server.PineconeServer() as server, pinecone_server.sdk_env(server), \
            pinecone_server.registered():
        yield server.url


@pytest.fixture(params=[_param(b) for b in BACKENDS])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, store_shared_dir: Path
) -> Iterator[StoreFactory]:
    """A :class:`StoreFactory` for each registered backend (skipped where unavailable)."""
    backend: StoreBackend = request.param
    reason = backend.requires()
    if reason:
        pytest.skip(f"{backend.id}: {reason}")
    address = ""
    if backend.server:
        address = request.getfixturevalue(backend.server)
        if address.startswith("skip:"):
            pytest.skip(f"{backend.id}: {address[5:]}")
    if backend.id.startswith("milvus-lite") and not backend.server:
        request.getfixturevalue("milvus_lite_keeper")
    factory = StoreFactory(backend, StoreContext(tmp_path, store_shared_dir, server=address))
    yield factory
    factory.cleanup()
