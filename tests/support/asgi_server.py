"""Run an ASGI app with uvicorn in a background thread on 127.0.0.1 (a free port)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from tests.support.net import free_port


class ThreadedServer:
    """``with ThreadedServer(app) as server: ... server.url ...``"""

    def __init__(self, app: Any, *, name: str = "asgi-test-server") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
