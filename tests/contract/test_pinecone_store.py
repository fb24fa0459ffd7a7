"""Pinecone-specific behaviour: limits, retries, host-only mode, prefix deletes, and the live cloud test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rag_app import registry
from rag_app.errors import BackendError, ConfigError, FingerprintMismatchError, InputError
from rag_app.types import Chunk

pytest.importorskip("pinecone", reason="pinecone: pip install 'rag-app[pinecone]'")

from tests.support import pinecone_server

DIM = 4
FP: dict[str, object] = {"embedder": "test-4", "dimension": DIM, "normalized": True, "chunker": {}}
Q = [1.0, 0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def server() -> Iterator[pinecone_server.PineconeServer]:
    with pinecone_server.PineconeServer() as srv, pinecone_server.sdk_env(srv), pinecone_server.registered():
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: pinecone_server.PineconeServer) -> Iterator[None]:
    yield
    server.fail_next.clear()


def store(server: pinecone_server.PineconeServer, **params: Any) -> Any:
    base = {"index": f"t-{uuid.uuid4().hex[:10]}", "controller_host": server.url, "create_index": True,
            "api_key_env": pinecone_server.API_KEY_ENV, "backoff_s": 0.01, "retries": 1}
    return registry.create("store", "pinecone", {**base, **params})


def chunk(cid: str, doc: str = "d", text: str = "t") -> Chunk:
    return Chunk(cid, doc, "s.md", text, {})


def test_metadata_over_40kb_is_input_error_before_writing(server: pinecone_server.PineconeServer) -> None:
    s = store(server)
    s.open(DIM, FP)
    with pytest.raises(InputError, match="Pinecone allows 40960 per vector"):
        s.upsert([chunk("ok"), chunk("big", text="x" * 41_000)], [Q, Q])
    assert s.count() == 0


def test_requests_are_split_under_2mb_and_1000_vectors(server: pinecone_server.PineconeServer) -> None:
    s = store(server, batch_size=1000)
    s.open(DIM, FP)
    rows = [chunk(f"c{i:04d}", text="y" * 30_000) for i in range(90)]  # ~2.7 MB of metadata in all
    s.upsert(rows, [Q] * len(rows))
    assert s.count() == 90
    with pytest.raises(ConfigError, match="batch_size"):
        store(server, batch_size=1001)


def test_retries_transient_errors_then_succeeds(server: pinecone_server.PineconeServer) -> None:
    s = store(server, retries=2)
    s.open(DIM, FP)
    server.fail_next[:] = [503, 429, 503, 503, 502]  # more than the SDK retries by itself
    s.upsert([chunk("a")], [Q])
    assert s.count() == 1 and not server.fail_next


def test_rejections_are_typed_and_one_line(server: pinecone_server.PineconeServer) -> None:
    s = store(server, retries=3)
    s.open(DIM, FP)
    server.fail_next[:] = [400]
    with pytest.raises(InputError, match="HTTP 400") as err:
        s.search(Q, 3)
    server.fail_next[:] = [401]
    with pytest.raises(ConfigError, match=pinecone_server.API_KEY_ENV):
        s.count()
    assert "\n" not in str(err.value)


def test_unreachable_host_and_missing_key(server: pinecone_server.PineconeServer, monkeypatch: Any) -> None:
    s = store(server, host="http://127.0.0.1:1", retries=0, timeout_s=2)
    start = time.monotonic()
    with pytest.raises(BackendError, match="cannot reach Pinecone") as err:
        s.count()
    assert "\n" not in str(err.value) and time.monotonic() - start < 30
    monkeypatch.delenv(pinecone_server.API_KEY_ENV)
    with pytest.raises(ConfigError, match="RAG_TEST_PINECONE_KEY"):
        store(server).count()


def test_host_only_skips_the_control_plane(server: pinecone_server.PineconeServer) -> None:
    host = server.create_index(f"h-{uuid.uuid4().hex[:8]}", DIM, "cosine")
    s = store(server, host=host, controller_host="http://127.0.0.1:1", create_index=False)
    s.open(DIM, FP)
    s.upsert([chunk("a"), chunk("b")], [Q, [0.0, 1.0, 0.0, 0.0]])
    assert [h.chunk.chunk_id for h in s.search(Q, 2)] == ["a", "b"]
    other = store(server, host=host, namespace="other")
    with pytest.raises(FingerprintMismatchError, match="dimension 4 vs 8"):
        other.open(8, {**FP, "dimension": 8})


def test_missing_index_without_create_is_config_error(server: pinecone_server.PineconeServer) -> None:
    s = store(server, create_index=False)
    assert s.fingerprint() is None and s.count() == 0
    with pytest.raises(ConfigError, match="create_index: true"):
        s.open(DIM, FP)


@pytest.mark.live
def test_live_pinecone_cloud() -> None:
    """Against the real service; needs PINECONE_API_KEY (creates a small serverless index once)."""
    if not os.environ.get("PINECONE_API_KEY"):
        pytest.skip("live: set PINECONE_API_KEY to run against Pinecone cloud")
    with pinecone_server.registered():
        s = registry.create("store", "pinecone", {
            "index": os.environ.get("RAG_TEST_PINECONE_INDEX", "rag-app-contract"), "create_index": True,
            "namespace": f"live-{uuid.uuid4().hex[:8]}", "consistency_wait_s": 60,
        })
        try:
            s.open(DIM, FP)
            s.upsert([chunk("doc1:00000", doc="doc1"), chunk("doc2:00000", doc="doc2")], [Q, [0.0, 1.0, 0.0, 0.0]])
            assert s.count() == 2
            assert [h.chunk.chunk_id for h in s.search(Q, 1)] == ["doc1:00000"]
            s.delete(["doc1:00000"])
            assert s.count() == 1
        finally:
            s.drop()
            s.close()
