"""A strict, in-memory Pinecone-API server on 127.0.0.1 for tests (stdlib ``http.server``).

It implements what the official ``pinecone`` SDK (10.x, API version 2026-07)
sends, and rejects what Pinecone rejects, with Pinecone's error shapes:

* control plane (its own port): ``POST /indexes``, ``GET /indexes/{name}``,
  ``DELETE /indexes/{name}``; each index gets its own data-plane host
  ``http://127.0.0.1:<port>`` like a real index host;
* data plane: ``POST /vectors/upsert``, ``POST /query``, ``GET /vectors/fetch``,
  ``POST /vectors/delete``, ``GET /vectors/list`` (prefix + pagination),
  ``POST /describe_index_stats``; namespaces.

Strictness: the ``Api-Key`` header must match (401); unknown JSON fields,
wrong dimensions, more than 1000 vectors or 2 MB per upsert, metadata over
40 KB or with nulls/nested values, all-zero vectors on cosine indexes, and
unknown or mistyped filter operators (``$gt`` and friends take numbers only)
are 400 ``{"code": 3, "message": ..., "details": []}``. Search is exact brute
force (cosine, dotproduct, squared euclidean ascending). ``fail_next`` makes the
next requests fail with given statuses (retry tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support import _pinecone_engine as engine

API_KEY_ENV = "RAG_TEST_PINECONE_KEY"
API_KEY = "pc-local-test-key"


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        owner = self.server.owner
        try:
            if self.headers.get("Api-Key") != owner.api_key:
                raise engine.ApiError(401, 16, "Invalid API Key")
            if owner.fail_next:
                status = owner.fail_next.pop(0)
                raise engine.ApiError(status, 14 if status >= 500 else 8, f"injected failure {status}")
            if len(raw) > engine.MAX_REQUEST_BYTES:
                raise engine.ApiError(400, 3, f"Request size {len(raw)} exceeds the maximum supported size of "
                                      f"{engine.MAX_REQUEST_BYTES} bytes")
            url = urlparse(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            body = json.loads(raw) if raw else {}
            if self.server.index is None:
                status, payload = owner.control(method, url.path, body)
            else:
                status, payload = self.server.index.handle(method, url.path, query, body)
        except engine.ApiError as exc:
            status, payload = exc.status, exc.payload()
        except ValueError as exc:
            status, payload = 400, {"code": 3, "message": f"invalid JSON: {exc}", "details": []}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: PineconeServer, index: engine.Index | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner
        self.index = index


class PineconeServer:
    """Control plane + one data-plane listener per index, all on 127.0.0.1."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.fail_next: list[int] = []
        self.indexes: dict[str, engine.Index] = {}
        self._servers: dict[str, _HTTPServer] = {}
        self._lock = threading.Lock()
        self._control = _HTTPServer(self, None)
        self.url = f"http://127.0.0.1:{self._control.server_address[1]}"

    def __enter__(self) -> PineconeServer:
        self._serve(self._control)
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in [self._control, *self._servers.values()]:
            srv.shutdown()
            srv.server_close()

    def _serve(self, srv: _HTTPServer) -> None:
        threading.Thread(target=srv.serve_forever, daemon=True, name="pinecone-stub").start()

    def create_index(self, name: str, dimension: int, metric: str = "cosine") -> str:
        """Create an index directly (no SDK) and return its host."""
        with self._lock:
            if name in self.indexes:
                raise engine.ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists", control=True)
            index = engine.Index(name, dimension, metric)
            srv = _HTTPServer(self, index)
            index.host = f"http://127.0.0.1:{srv.server_address[1]}"
            self.indexes[name], self._servers[name] = index, srv
        self._serve(srv)
        return index.host

    def control(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["indexes"]:
            name, dimension, metric = engine.parse_create(body)
            self.create_index(name, dimension, metric)
            return 201, self.indexes[name].model()
        if len(parts) == 2 and parts[0] == "indexes":
            index = self.indexes.get(parts[1])
            if index is None:
                raise engine.ApiError(404, "NOT_FOUND", f"Resource {parts[1]} not found", control=True)
            if method == "GET":
                return 200, index.model()
            if method == "DELETE":
                with self._lock:
                    srv = self._servers.pop(parts[1])
                    del self.indexes[parts[1]]
                srv.shutdown()
                srv.server_close()
                return 202, {}
        raise engine.ApiError(404, "NOT_FOUND", f"no route {method} {path}", control=True)


@contextlib.contextmanager
def sdk_env(server: PineconeServer) -> Iterator[None]:
    """Put the server's API key in ``RAG_TEST_PINECONE_KEY`` for the duration."""
    old = os.environ.get(API_KEY_ENV)
    os.environ[API_KEY_ENV] = server.api_key
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = old


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """Register the ``pinecone`` store if the registry does not list it yet."""
    from rag_app import registry

    stores = registry.REGISTRY["store"]
    added = "pinecone" not in stores
    if added:
        stores["pinecone"] = ("rag_app.backends.stores.pinecone:PineconeStore", "pinecone")
    try:
        yield
    finally:
        if added:
            stores.pop("pinecone", None)
