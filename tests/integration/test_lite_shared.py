"""Several processes on one local Milvus Lite index at once, through the shared server (real processes, real Lite).

Before: the UI held the ``.db`` lock and every CLI command failed with
milvus_lite's 20-line ``DataDirLockedError`` traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, fast_config_dict

pytest.importorskip("milvus_lite")
pytest.importorskip("fcntl")

from rag_app.backends.stores.milvus import lite_server as _lite_server

CLI = "from rag_app.cli import run; run()"

# A UI-like process: one cached pipeline, searching until told to stop, and
# seeing what a CLI ingest adds meanwhile.
UI_LIKE = """
import sys, time
from pathlib import Path
from rag_app.config import load_config
from rag_app.pipeline import build_pipeline
pipeline = build_pipeline(load_config(sys.argv[1]))
stop = Path(sys.argv[2])
n = 0
while not stop.exists():
    hits = pipeline.search("self-attention cost", top_k=3)
    assert hits, "no hits"
    n += 1
    print("searched", n, hits[0].chunk.source, flush=True)
    time.sleep(0.1)
final = pipeline.search("gradient descent learning rates", top_k=1)  # what the CLI ingested meanwhile
print("final", final[0].chunk.source if final else None, flush=True)
print("ui-like done", n, flush=True)
pipeline.close()
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAG_MILVUS_LITE_SERVER"}
    return {**env, "RAG_MILVUS_LITE_SERVER": "shared", "RAG_MILVUS_LITE_IDLE_S": "2", **extra}


def _rag(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout, check=False)  # fmt: skip


def _config(tmp_path: Path) -> tuple[Path, Path]:
    data: dict[str, Any] = fast_config_dict(tmp_path / "state")
    db = tmp_path / "index" / "lite.db"
    data["store"] = {"type": "milvus", "params": {"uri": str(db), "collection": "docs"}}
    path = tmp_path / "rag.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, db


def _docs(folder: Path, topics: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in topics.items():
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    return folder


def _no_traceback(*outputs: str) -> None:
    for text in outputs:
        assert "Traceback" not in text and 'File "' not in text, text


def _wait_stopped(db: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _lite_server.running(db) is not None:
        assert time.monotonic() < deadline, "the shared server did not stop when idle"
        time.sleep(0.2)


def test_ui_like_process_cli_ingest_and_cli_search_at_once(tmp_path: Path) -> None:
    config, db = _config(tmp_path)
    env = _env()
    first = _docs(tmp_path / "docs", {"attention": "Self-attention cost grows quadratically with sequence length."})
    done = _rag("ingest", "-c", str(config), str(first), env=env)
    assert done.returncode == 0, done.stderr
    assert _lite_server.running(db) is not None

    stop = tmp_path / "stop"
    ui = subprocess.Popen([sys.executable, "-c", UI_LIKE, str(config), str(stop)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _lite_server.running(db) is None or _lite_server.running(db).clients < 1:  # type: ignore[union-attr]
            assert ui.poll() is None and time.monotonic() < deadline, ui.communicate()
            time.sleep(0.1)
        server = _lite_server.running(db)
        assert server is not None and server.uri.startswith("http://127.0.0.1:")
        more = _docs(tmp_path / "more", {f"topic{i}": f"Gradient descent note {i} about learning rates."
                                         for i in range(30)})  # fmt: skip
        command = [sys.executable, "-c", CLI, "ingest", "-c", str(config), str(first), str(more)]
        ingest = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        searches = [_rag("search", "-c", str(config), "-k", "2", "attention cost", env=env) for _ in range(2)]
        out, err = ingest.communicate(timeout=180)
        assert ingest.returncode == 0, err
        assert "files: 31 seen, 30 new" in out
        for search in searches:
            assert search.returncode == 0, search.stderr
            assert "attention.md" in search.stdout
            _no_traceback(search.stdout, search.stderr)
        after = _rag("search", "-c", str(config), "-k", "1", "gradient descent learning rates", env=env)
        assert after.returncode == 0 and "topic" in after.stdout, after.stderr
        stats = _rag("stats", "-c", str(config), env=env)
        assert stats.returncode == 0 and "chunks:    31" in stats.stdout, stats.stdout + stats.stderr
        _no_traceback(out, err, after.stderr, stats.stderr)
        assert ui.poll() is None, ui.communicate()
    finally:
        stop.touch()
        ui_out, ui_err = ui.communicate(timeout=60)
    assert ui.returncode == 0, ui_err
    assert "ui-like done" in ui_out
    final = next(line for line in ui_out.splitlines() if line.startswith("final "))
    assert "topic" in final, ui_out  # the long-lived process sees the other process's ingest
    _no_traceback(ui_err)
    last = _lite_server.running(db)
    assert last is None or last.pid == server.pid  # one server while the UI-like process ran
    _wait_stopped(db)  # idle after the last client left


def test_killed_server_is_replaced(tmp_path: Path) -> None:
    config, db = _config(tmp_path)
    env = _env(RAG_MILVUS_LITE_IDLE_S="60")  # stays up between the commands below; `rag lite stop` ends it
    docs = _docs(tmp_path / "docs", {"lora": "LoRA learns a low-rank update of the frozen weights."})
    assert _rag("ingest", "-c", str(config), str(docs), env=env).returncode == 0
    old = _lite_server.running(db)
    assert old is not None
    os.kill(old.pid, signal.SIGKILL)
    time.sleep(0.5)
    again = _rag("search", "-c", str(config), "-k", "1", "low-rank update", env=env)
    assert again.returncode == 0 and "lora.md" in again.stdout, again.stderr
    new = _lite_server.running(db)
    assert new is not None and new.pid != old.pid
    status = _rag("lite", "status", "-c", str(config), env=env)
    assert f"pid {new.pid}" in status.stdout
    stopped = _rag("lite", "stop", "-c", str(config), env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _lite_server.running(db) is None


def test_file_held_by_an_unshared_process_is_one_line(tmp_path: Path) -> None:
    config, db = _config(tmp_path)
    docs = _docs(tmp_path / "docs", {"bpe": "Byte-pair encoding merges frequent symbol pairs."})
    off = _env(RAG_MILVUS_LITE_SERVER="off")
    assert _rag("ingest", "-c", str(config), str(docs), env=off).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom rag_app.config import load_config\n"
         "from rag_app.pipeline import build_pipeline\np = build_pipeline(load_config(sys.argv[1]))\n"
         "p.search('pairs')\nprint('open', flush=True)\ntime.sleep(120)", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=off, cwd=REPO,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        for env in (_env(), off):
            found = _rag("search", "-c", str(config), "pairs", env=env)
            assert found.returncode == 2, found.stderr
            lines = [line for line in found.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: ") and "another process" in lines[0], found.stderr
            _no_traceback(found.stderr)
    finally:
        holder.kill()
        holder.wait()
    assert _lite_server.running(db) is None
