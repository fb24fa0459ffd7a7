"""One Milvus Lite server per local ``.db``, shared by every process that opens it.

A Milvus Lite data directory can be open in one process only (its ``LOCK``
file), so the UI, ``rag serve`` and CLI commands could not use the same local
index at once. Instead of opening the directory in-process, each process asks
:func:`acquire` for the URI of a small server process bound to 127.0.0.1 on a
free port (``python -m rag_app.backends.stores.milvus.lite_server``), started on
demand by the first process and reused by the later ones.

Everything lives in a state folder beside the data directory,
``<parent>/.<name>.server/``:

- ``start.lock``: taken (``flock``) by a process while it looks for, or starts,
  the server, and by the server while it shuts down: the two never race.
- ``alive.lock``: held by the server for its whole life; free means no server
  (a killed one is detected at once, whatever ``server.json`` says).
- ``server.json``: its pid and port; ``server.log``: its own output.
- ``clients/*.lease``: one file per process using the server, held with
  ``flock`` while it does (the kernel drops a dead process's lock).

The server stops ``RAG_MILVUS_LITE_IDLE_S`` seconds (default 300) after its
last client went away, when its data directory is deleted, or on SIGTERM
(``rag lite stop``). Writes are serialised inside it (Milvus Lite's engine is
single-writer per collection); reads run concurrently.
``RAG_MILVUS_LITE_SERVER=off`` opens the directory in-process instead (one
process at a time, as before).

One module on purpose (it is over the usual size): the client side and the
server side of the lock protocol above must change together, and reading them
in one file is how a race between them gets seen.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rag_app.atomic import AtomicFile
from rag_app.errors import BackendError, ConfigError, first_line

logger = logging.getLogger(__name__)

MODE_ENV = "RAG_MILVUS_LITE_SERVER"
IDLE_ENV = "RAG_MILVUS_LITE_IDLE_S"
DEFAULT_IDLE_S = 300.0
START_TIMEOUT_S = 90.0
_WRITES = ("Insert", "Upsert", "Delete", "Flush", "Create", "Drop", "Alter", "Compact", "Rename", "Truncate")

_lock = threading.Lock()


@dataclass(frozen=True)
class ServerInfo:
    """A running shared server."""

    pid: int
    port: int
    data_dir: str
    clients: int = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class _Lease:
    uri: str
    handle: IO[str]
    path: Path
    users: int = 1


_leases: dict[str, _Lease] = {}


def shared() -> bool:
    """Whether local Lite paths go through a shared server (``RAG_MILVUS_LITE_SERVER``, default on)."""
    value = os.environ.get(MODE_ENV, "shared").strip().lower()
    if value in ("off", "0", "false", "no", "inprocess", "in-process"):
        return False
    if value not in ("shared", "on", "1", "true", "yes", ""):
        raise ConfigError(f"{MODE_ENV}={value!r}: use 'shared' (the default) or 'off' (open the file in-process)")
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows: no flock, one process at a time
        return False
    return True


def state_dir(path: Path) -> Path:
    """Where the server of Lite data directory ``path`` keeps its lock, port and log files."""
    path = Path(os.path.abspath(path))
    return path.parent / f".{path.name}.server"


# --------------------------------------------------------------------------- client side


def acquire(path: Path, *, timeout_s: float = START_TIMEOUT_S) -> str:
    """The URI of the shared server for ``path`` (started if needed); this process counts as a client.

    Call :func:`release` once per ``acquire`` when done.

    Raises:
        BackendError: the server could not start (the file is open in a process that does not share it ...).
    """
    key = os.path.abspath(path)
    with _lock:
        lease = _leases.get(key)
        if lease is not None:
            lease.users += 1
            return lease.uri
        folder = state_dir(path)
        (folder / "clients").mkdir(parents=True, exist_ok=True)
        with _flocked(folder / "start.lock"):
            handle, lease_path = _take_lease(folder)
            try:
                info = running(path) or _start(Path(key), folder, timeout_s)
            except BaseException:
                _drop_lease(handle, lease_path)
                raise
        _leases[key] = _Lease(info.uri, handle, lease_path)
        logger.debug("using the shared Milvus Lite server for %s at %s (pid %d)", key, info.uri, info.pid)
        return info.uri


def release(path: Path) -> None:
    """One user of ``path`` in this process is done; the last one gives up this process's lease."""
    key = os.path.abspath(path)
    with _lock:
        lease = _leases.get(key)
        if lease is None:
            return
        lease.users -= 1
        if lease.users <= 0:
            del _leases[key]
            _drop_lease(lease.handle, lease.path)


def running(path: Path) -> ServerInfo | None:
    """The live shared server of ``path``, or None (a stale ``server.json`` counts as none)."""
    folder = state_dir(path)
    if not flock_held(folder / "alive.lock"):
        return None
    try:
        data = json.loads((folder / "server.json").read_text(encoding="utf-8"))
        return ServerInfo(int(data["pid"]), int(data["port"]), str(data["data_dir"]), _count_clients(folder))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # alive but not yet announced (it is starting)


def stop(path: Path, *, timeout_s: float = 15.0) -> ServerInfo | None:
    """Ask the shared server of ``path`` to stop (SIGTERM) and wait until it has; returns what was stopped."""
    info = running(path)
    if info is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while flock_held(state_dir(path) / "alive.lock"):
        if time.monotonic() > deadline:
            raise BackendError(f"the Milvus Lite server for {path} (pid {info.pid}) did not stop in {timeout_s:.0f} s")
        time.sleep(0.05)
    return info


def _start(path: Path, folder: Path, timeout_s: float) -> ServerInfo:
    """Start the server process for ``path`` and wait until it announces its port."""
    with contextlib.suppress(FileNotFoundError):
        (folder / "server.json").unlink()
    error_file = folder / "error.txt"
    with contextlib.suppress(FileNotFoundError):
        error_file.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "rag_app.backends.stores.milvus.lite_server", "--data-dir", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(folder / "server.log", "ab") as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True,  # its own session: Ctrl-C in one terminal leaves it to the others
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        info = running(path)
        if info is not None and info.pid == proc.pid:
            logger.debug("started the shared Milvus Lite server for %s on port %d", path, info.port)
            return info
        code = proc.poll()
        if code is not None:
            reason = _first_line_of(error_file) or f"it exited with status {code}; see {folder / 'server.log'}"
            if "DataDirLocked" in reason or "locked" in reason.lower():
                raise BackendError(
                    f"Milvus Lite file {path} is open in another process that does not share it; close that "
                    f"process (or start it again with this rag_app so it shares the file), then retry"
                )
            raise BackendError(f"cannot start the Milvus Lite server for {path}: {reason}")
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            raise BackendError(
                f"the Milvus Lite server for {path} did not start within {timeout_s:.0f} s; "
                f"see {folder / 'server.log'}"
            )
        time.sleep(0.02)


def _take_lease(folder: Path) -> tuple[IO[str], Path]:
    """A locked lease file (locked before it gets its visible name, so the server never sees it unlocked)."""
    import fcntl

    name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / "clients" / f".{name}.tmp"
    handle = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - held until release()
    fcntl.flock(handle, fcntl.LOCK_EX)
    final = folder / "clients" / f"{name}.lease"
    os.replace(tmp, final)
    return handle, final


def _drop_lease(handle: IO[str], path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    handle.close()


def _count_clients(folder: Path, *, prune: bool = False) -> int:
    """Lease files still locked by a live process (``prune``: delete the others)."""
    import fcntl

    alive = 0
    for lease in (folder / "clients").glob("*.lease"):
        try:
            fd = os.open(lease, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            alive += 1
        else:
            if prune:
                with contextlib.suppress(FileNotFoundError):
                    lease.unlink()
        finally:
            os.close(fd)
    return alive


def flock_held(lock_file: Path) -> bool:
    """Whether some process holds ``lock_file``'s flock (False when there is no such file).

    Raises:
        ImportError: no ``fcntl`` on this platform.
    """
    import fcntl

    try:
        fd = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def _flocked(lock_file: Path, *, blocking: bool = True) -> Iterator[bool]:
    import fcntl

    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing drops the lock


def _first_line_of(path: Path) -> str:
    """The first line of a text file ("" when it is empty or cannot be read)."""
    try:
        return first_line(path.read_text(encoding="utf-8"))
    except OSError:
        return ""


# --------------------------------------------------------------------------- server side


def _write_serialiser() -> Any:
    """A gRPC interceptor running mutating RPCs one at a time (reads stay concurrent)."""
    import grpc

    lock = threading.Lock()

    class Writes(grpc.ServerInterceptor):  # type: ignore[misc]
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = continuation(details)
            method = str(details.method).rsplit("/", 1)[-1]
            if handler is None or handler.unary_unary is None or not method.startswith(_WRITES):
                return handler
            call = handler.unary_unary

            def locked(request: Any, context: Any) -> Any:
                with lock:
                    return call(request, context)

            return handler._replace(unary_unary=locked)

    return Writes()


def _serve(data_dir: Path, idle_s: float) -> int:
    """Run the server for ``data_dir`` until idle, deleted or signalled; returns the exit status."""
    from concurrent import futures

    folder = state_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _flocked(folder / "alive.lock", blocking=False) as mine:
        if not mine:
            print("another server already serves this data directory", file=sys.stderr)
            return 0
        try:
            import grpc
            from milvus_lite.adapter.grpc.servicer import MilvusServicer
            from milvus_lite.db import MilvusLite
            from pymilvus.grpc_gen import milvus_pb2_grpc

            db = MilvusLite(str(data_dir))
        except Exception as exc:
            (folder / "error.txt").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")
            raise
        size = 256 * 2**20
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            interceptors=[_write_serialiser()],
            options=[
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
                # pymilvus pings idle channels; grpc's default policy answers with GOAWAY too_many_pings.
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
                ("grpc.http2.max_ping_strikes", 0),
            ],
        )
        milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        info = {"pid": os.getpid(), "port": port, "data_dir": str(data_dir), "started": time.time()}
        with AtomicFile(folder / "server.json", prefix=".server-", suffix=".json", file_mode=0o644) as fh:
            fh.write(json.dumps(info))
        print(f"serving {data_dir} on 127.0.0.1:{port} (pid {os.getpid()})", flush=True)

        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stopping.set())
        idle_since: float | None = None
        reason = "signalled"
        while not stopping.wait(1.0):
            if not data_dir.is_dir():
                reason = "its data directory is gone"
                break
            if _count_clients(folder, prune=True):
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since < idle_s:
                continue
            with _flocked(folder / "start.lock"):  # no client can arrive while we decide and stop
                if _count_clients(folder, prune=True):
                    idle_since = None
                    continue
                reason = f"idle for {idle_s:.0f} s"
                _shutdown(server, db, folder)
                break
        else:
            with _flocked(folder / "start.lock"):
                _shutdown(server, db, folder)
        if reason == "its data directory is gone":
            _shutdown(server, db, folder)
        print(f"stopped: {reason}", flush=True)
    return 0


def _shutdown(server: Any, db: Any, folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        data = json.loads((folder / "server.json").read_text(encoding="utf-8"))
        if data.get("pid") == os.getpid():
            (folder / "server.json").unlink()
    server.stop(grace=2).wait()
    with contextlib.suppress(Exception):
        db.close()


def _idle_seconds() -> float:
    text = os.environ.get(IDLE_ENV, "")
    try:
        return float(text) if text else DEFAULT_IDLE_S
    except ValueError:
        return DEFAULT_IDLE_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the shared Milvus Lite server of one data directory")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--idle-s", type=float, default=None, help=f"stop this long after the last client ({IDLE_ENV})")
    args = parser.parse_args(argv)
    idle = args.idle_s if args.idle_s is not None else _idle_seconds()
    return _serve(Path(os.path.abspath(args.data_dir)), idle)


if __name__ == "__main__":
    sys.exit(main())
