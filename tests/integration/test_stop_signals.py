"""SIGTERM to `rag ui` / `rag serve` leaves no process behind and releases the index.

Real processes only. `run_server` (what `rag ui` runs Streamlit with) is driven
with children that misbehave the ways a busy Streamlit can: ignoring SIGTERM,
leaving a child of their own behind. Before: `rag ui` forwarded SIGTERM to its
child only and then waited for it forever, and a grandchild outlived both.
`rag serve` is stopped while it holds a Milvus Lite file, which another
process must be able to open afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

psutil = pytest.importorskip("psutil")

from tests.conftest import fast_config_dict  # noqa: E402
from tests.support.net import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
with open(sys.argv[2], "w") as out:
    out.write(f"{os.getpid()} {grandchild.pid}")
time.sleep(300)
"""

SERVE = """
import sys
from pathlib import Path
from rag_app import pipeline
close, mark = pipeline.Pipeline.close, Path(sys.argv[1])
def recorded(self):  # leaves a mark when `rag serve` closes its pipeline (the store and its lock)
    close(self)
    mark.write_text("closed")
pipeline.Pipeline.close = recorded
from rag_app.cli import run
sys.argv = ["rag", *sys.argv[2:]]
run()
"""

PARENT = """
import sys
from rag_app.cli.app_process import run_server
command = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
sys.exit(run_server(command, health_url=sys.argv[4], on_ready=lambda: None, grace_s=1.0))
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, f"exited early with {proc.returncode}"
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    return path.read_text()


@pytest.mark.parametrize("child", ["stubborn", "polite"])
def test_sigterm_to_the_ui_process_stops_its_whole_process_group(tmp_path: Path, child: str) -> None:
    pids_file = tmp_path / "pids"
    health = f"http://127.0.0.1:{free_port()}/health"  # never answers
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, child, str(pids_file), health], cwd=REPO, stdin=subprocess.DEVNULL
    )
    try:
        child_pid, grandchild_pid = (int(p) for p in _wait_for(pids_file, parent).split())
        assert os.getpgid(child_pid) == child_pid  # the child leads its own group
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=15)  # the grace is 1 s: a parent that waits on its child forever fails here
    finally:
        if parent.poll() is None:
            parent.kill()
    deadline = time.monotonic() + 5
    while not (_gone(child_pid) and _gone(grandchild_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child_pid), "the server child outlived rag ui"
    assert _gone(grandchild_pid), "a process the child started outlived rag ui"


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def test_sigterm_to_rag_serve_exits_and_releases_the_milvus_lite_file(tmp_path: Path) -> None:
    pytest.importorskip("milvus_lite")
    pytest.importorskip("uvicorn")
    from rag_app.config import load_config
    from rag_app.pipeline import build_pipeline

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "attention.md").write_text("# Attention\n\nSelf-attention cost grows quadratically with length.\n")
    data = fast_config_dict(tmp_path / "state")
    data.update(store={"type": "milvus", "params": {"uri": str(tmp_path / "lite.db"), "collection": "docs"}},
                generator={"type": "extractive"}, answer={"min_score": 0.05})  # fmt: skip
    config_path = tmp_path / "rag.yaml"
    config_path.write_text(yaml.safe_dump(data))
    ingest = build_pipeline(load_config(config_path))
    ingest.ingest([docs])
    ingest.close()

    port = free_port()
    closed = tmp_path / "closed"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_TOKEN"}
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(closed), "serve", "-c", str(config_path), "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + 60
            while True:
                try:
                    _http(f"{url}/models")
                    break
                except OSError:
                    assert serve.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            question = {"model": "rag", "messages": [{"role": "user", "content": "How does attention cost grow?"}]}
            question["model"] = _http(f"{url}/models")["data"][0]["id"]
            assert "quadratically" in _http(f"{url}/chat/completions", question)["choices"][0]["message"]["content"]
            children = psutil.Process(serve.pid).children(recursive=True)
            serve.send_signal(signal.SIGTERM)
            # uvicorn shuts down (the app's shutdown closes the pipeline), then ends itself with the signal
            assert serve.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
        finally:
            if serve.poll() is None:
                serve.kill()
    assert "Traceback" not in log.read_text(), log.read_text()
    assert closed.exists(), "rag serve ended without closing its pipeline"
    assert psutil.wait_procs(children, timeout=5)[1] == []
    reopened = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            from rag_app.config import load_config
            from rag_app.pipeline import build_pipeline
            p = build_pipeline(load_config({str(config_path)!r}))
            print(p.search("attention")[0].chunk.source)
            p.close()
        """)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert reopened.returncode == 0, reopened.stderr
    assert reopened.stdout.strip().endswith("attention.md")
