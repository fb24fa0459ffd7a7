"""Run the Streamlit server as a child process: unattended, health-checked, stopped with ``rag ui``.

The child never reads the terminal (stdin is /dev/null), so nothing it runs can
wait for input. It leads its own process group, so whatever it starts belongs
to that group too. ``SIGTERM``/``SIGHUP``/``SIGINT`` sent to ``rag ui`` are
passed on to the whole group; a group that has not exited ``grace_s`` seconds
later is killed (SIGKILL), and so are members left behind when the child
exits, so stopping ``rag ui`` leaves no process holding the port or the index
lock. On Linux the child also gets SIGTERM when ``rag ui`` is killed outright.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from types import FrameType

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
_GRACE_S = 10.0


def wait_healthy(url: str, alive: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``url`` until it answers 200; False when ``alive()`` turns false or ``timeout`` passes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    return False


def can_open_browser() -> bool:
    """A graphical browser can be started without asking anything in this terminal."""
    if sys.platform in ("darwin", "win32"):
        return True
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return has_display and shutil.which("xdg-open") is not None


def open_browser(url: str) -> bool:
    """Open ``url`` in the desktop's browser, detached and silent; False where there is none.

    Python's ``webbrowser`` falls back to text browsers (lynx, w3m) on a machine
    without a display, which would take over the terminal, so on Linux only
    ``xdg-open`` with a display is used.
    """
    if not can_open_browser():
        return False
    if sys.platform == "win32":
        return webbrowser.open(url)
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen(
        [opener, url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    return True


def run_server(
    command: Sequence[str],
    *,
    health_url: str,
    on_ready: Callable[[], None],
    start_timeout: float = 120.0,
    grace_s: float = _GRACE_S,
) -> int:
    """Run ``command`` until it exits or ``rag ui`` is told to stop; return its exit status.

    ``on_ready`` runs (in a helper thread) once ``health_url`` answers. After a stop
    signal the child's group has ``grace_s`` seconds to exit before it is killed.
    """
    child = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    kill_at: list[float] = []  # set by the first stop signal

    def forward(signum: int, _: FrameType | None) -> None:
        _signal_group(child, signal.SIGTERM if signum == signal.SIGHUP else signum)
        if not kill_at:
            kill_at.append(time.monotonic() + grace_s)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, forward)

    def watch() -> None:
        if wait_healthy(health_url, lambda: child.poll() is None, timeout=start_timeout):
            on_ready()

    threading.Thread(target=watch, name="rag-ui-health", daemon=True).start()
    try:
        while True:
            try:
                return child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if kill_at and time.monotonic() >= kill_at[0]:
                    _signal_group(child, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop(child, grace_s=grace_s)


def _child_setup() -> None:
    """In the child, before ``exec``: lead a new process group and die with ``rag ui``."""
    os.setpgid(0, 0)
    _die_with_parent()


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the child's process group (the child and all it started); gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if ``rag ui`` itself is killed (SIGKILL leaves no chance to forward)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):  # best effort: the signal forwarding still applies
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop(child: subprocess.Popen[bytes], *, grace_s: float = _GRACE_S) -> None:
    """Stop ``child`` and everything in its process group: SIGTERM, then SIGKILL after ``grace_s``."""
    if child.poll() is None:
        _signal_group(child, signal.SIGTERM)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
    # members the child left behind (its own children): the same treatment, without waiting on them
    if _group_alive(child.pid):
        _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + min(grace_s, 2.0)
        while _group_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_group(child, signal.SIGKILL)
