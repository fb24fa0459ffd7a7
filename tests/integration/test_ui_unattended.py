"""`rag ui` (the last step of `make demo`) runs without a terminal: no prompt, a URL, and it stops cleanly.

Before: Streamlit ran non-headless, stopped at its first-run "Email:" prompt and,
with stdin closed, exited 255; `rag ui` was killed without stopping its child.
The run uses a fresh HOME (no ~/.streamlit/credentials.toml), like a new user.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.net import free_port

pytest.importorskip("streamlit")
psutil = pytest.importorskip("psutil")

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ("Email", "Welcome to Streamlit", "Collecting usage statistics", "gatherUsageStats", "skills",
           "privacy-policy", "Traceback")  # fmt: skip


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_rag_ui_runs_unattended_and_stops_with_its_server(tmp_path: Path, stop_signal: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1")
    rag = Path(sys.executable).with_name("rag")
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(rag), "ui", "-c", str(REPO / "pipelines" / "test.yaml"), "--port", str(port),
             "--uploads-dir", str(tmp_path / "uploads"), "--reports-dir", str(tmp_path / "reports")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while not _healthy(url):
                assert proc.poll() is None, f"rag ui exited {proc.returncode}: {log.read_text()}"
                assert time.monotonic() < deadline, f"no health answer: {log.read_text()}"
                time.sleep(0.3)
            deadline = time.monotonic() + 10
            while "ready" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            children = psutil.Process(proc.pid).children(recursive=True)
            assert children, "Streamlit runs as a child of rag ui"
            proc.send_signal(stop_signal)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text()
    assert [p for p in PROMPTS if p.lower() in output.lower()] == [], output
    assert f"starting the chat UI on {url}" in output and f"chat UI ready on {url}" in output
    assert "opened in your browser" not in output  # no display: nothing is opened
    assert not (home / ".streamlit" / "credentials.toml").exists()
    gone = psutil.wait_procs(children, timeout=15)[1]
    assert gone == [], f"Streamlit outlived rag ui: {gone}"
    assert not _healthy(url)
