"""Real Milvus servers on 127.0.0.1 for the contract tests (started once per session).

Two server-mode paths, each a separate backend in ``tests/contract``:

* **Milvus 2.3.5 standalone** from PyPI ``milvus`` (``milvus-server``). Its gRPC
  servers ignore the ``*.ip`` settings and listen on every interface (``*:19530``
  and seven more ports, measured with ``ss -ltnp``), so it is started inside a
  private network namespace (``unshare --net``) whose only interface is
  loopback. A small TCP forwarder in this process listens on ``127.0.0.1:<free
  port>`` and connects into that namespace (``setns`` on one dialer thread), so
  nothing is reachable from any other address. Needs ``unshare``/``ip`` and
  CAP_SYS_ADMIN (root in a container is enough); otherwise the backend is skipped.
* **Milvus Lite's gRPC server**: ``milvus-lite server --host 127.0.0.1 --port P``.

Each start function returns a :class:`RunningServer` or raises
:class:`ServerUnavailable` with a one-line reason (the fixtures turn it into a skip).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port

logger = logging.getLogger(__name__)

_CLONE_NEWNET = 0x40000000
_INNER_PORT = 19530  # inside the private namespace every port is free
_COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


class ServerUnavailable(RuntimeError):
    """The server cannot be started on this machine (the reason is the message)."""


@dataclass
class RunningServer:
    """A started server: its URI and how to stop it."""

    uri: str
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    forwarder: _Forwarder | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.forwarder is not None:
            self.forwarder.close()
        _stop_group(self.proc)


# --------------------------------------------------------------------------- Milvus 2.3 standalone


def start_milvus_standalone(data_dir: Path, timeout_s: float = 90.0) -> RunningServer:
    """Start PyPI ``milvus``' standalone server in a loopback-only network namespace."""
    exe = shutil.which("milvus-server") or str(Path(sys.executable).with_name("milvus-server"))
    if not Path(exe).exists():
        raise ServerUnavailable("PyPI 'milvus' (milvus-server) is not installed: pip install milvus==2.3.5")
    if sys.platform != "linux" or not shutil.which("unshare") or not shutil.which("ip"):
        raise ServerUnavailable("needs Linux with unshare and ip (iproute2) to keep Milvus on loopback")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        raise ServerUnavailable(
            f"cannot create a network namespace (unshare --net: {probe.stderr.decode().strip()[:120]})"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    # Inside the namespace: bring loopback up, then run the wrapper (it writes the
    # config, unpacks the binary, starts `milvus run standalone` and waits for /healthz).
    # Test-speed tuning: a 20 ms time tick (default 200 ms) makes Strong reads ~5x faster;
    # faster query-coordinator polling shortens load_collection (2.6 s by default).
    extra = [f"{c}.ip=127.0.0.1" for c in _COMPONENTS] + [
        "proxy.timeTickInterval=20", "queryCoord.checkInterval=100", "queryCoord.distPullInterval=50",
    ]
    options = " ".join(f"--extra-config {e}" for e in extra)
    script = f'ip link set lo up && exec "{exe}" --data "{data_dir}" --proxy-port {_INNER_PORT} {options}'
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--net", "--kill-child", "sh", "-c", script],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
    try:
        _wait_for_log(proc, log, "Ctrl+C to exit", timeout_s)
        forwarder = _Forwarder(f"/proc/{proc.pid}/ns/net", _INNER_PORT)
    except BaseException:
        _stop_group(proc)
        raise
    server = RunningServer(f"http://127.0.0.1:{forwarder.port}", "milvus 2.3.5 standalone", proc, log, forwarder)
    try:
        _wait_for_grpc(server.uri, proc, timeout_s=30)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_log(proc: subprocess.Popen[bytes], log: Path, marker: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if marker in text:
            return
        if "already stopped" in text or "timeout" in text.lower() or proc.poll() is not None:
            raise ServerUnavailable(f"Milvus exited during start-up; see {log}: {_tail(text)}")
        time.sleep(0.2)
    raise ServerUnavailable(f"Milvus did not start within {timeout_s:.0f} s; see {log}")


def _wait_for_grpc(uri: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    from pymilvus import MilvusClient

    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(f"Milvus server exited with status {proc.returncode}")
        try:
            client = MilvusClient(uri=uri, timeout=5)
            client.list_collections()
            client.close()
            return
        except Exception as exc:  # the server is still coming up
            last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            time.sleep(0.5)
    raise ServerUnavailable(f"Milvus at {uri} did not answer within {timeout_s:.0f} s: {last[:160]}")


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


# --------------------------------------------------------------------------- Milvus Lite server


def start_milvus_lite_server(data_dir: Path, timeout_s: float = 60.0) -> RunningServer:
    """Start ``milvus-lite server --host 127.0.0.1`` on a free port."""
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    if not Path(exe).exists():
        raise ServerUnavailable("milvus-lite is not installed: pip install 'rag-app[milvus]'")
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "server", "--data-dir", str(data_dir / "lite.db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", "milvus-lite server", proc, log)
    try:
        _wait_for_port(port, proc, timeout_s)
        _wait_for_grpc(server.uri, proc, timeout_s=timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(f"server exited with status {proc.returncode} during start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ServerUnavailable(f"nothing listened on 127.0.0.1:{port} within {timeout_s:.0f} s")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group we started (the server and its children)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- loopback forwarder


class _Forwarder:
    """Listens on 127.0.0.1 here and connects to ``127.0.0.1:target`` inside another network namespace."""

    def __init__(self, netns: str, target_port: int) -> None:
        self._target = target_port
        self._requests: queue.Queue[queue.Queue[socket.socket | BaseException] | None] = queue.Queue()
        self._ns_fd = os.open(netns, os.O_RDONLY)
        ready: queue.Queue[BaseException | None] = queue.Queue()
        threading.Thread(target=self._dialer, args=(ready,), daemon=True, name="netns-dialer").start()
        error = ready.get()
        if error is not None:
            os.close(self._ns_fd)
            raise ServerUnavailable(f"cannot enter the server's network namespace: {error}")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="netns-accept").start()

    def _dialer(self, ready: queue.Queue[BaseException | None]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(self._ns_fd, _CLONE_NEWNET) != 0:  # this thread only
            ready.put(OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno())))
            return
        ready.put(None)
        while (reply := self._requests.get()) is not None:
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target), timeout=10)
                upstream.settimeout(None)
                reply.put(upstream)
            except OSError as exc:
                reply.put(exc)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            reply: queue.Queue[socket.socket | BaseException] = queue.Queue()
            self._requests.put(reply)
            upstream = reply.get()
            if isinstance(upstream, BaseException):
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._requests.put(None)
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(OSError):
            os.close(self._ns_fd)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
