"""What the real-browser tests share: Chromium's flags, the skip reason, a config, the app in a subprocess.

Import this before Playwright: :func:`missing` says why the module should be skipped
(no Chromium, no Playwright, no Streamlit, or another module the test needs).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = REPO / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
_NEEDED = (("playwright", "pip install playwright"), ("streamlit", "pip install 'rag-app[ui]'"))


def missing(extra_modules: Sequence[tuple[str, str]] = ()) -> str | None:
    """Why these browser tests cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is not installed (make browser)"
    for module, install in (*_NEEDED, *extra_modules):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({install})"
    return None


def write_config(root: Path, name: str, base: str = "test", **overrides: Any) -> Path:
    """``pipelines/<base>.yaml`` with its store and state under ``root/index``, plus top-level ``overrides``."""
    data = yaml.safe_load((REPO / "pipelines" / f"{base}.yaml").read_text(encoding="utf-8"))
    store = data["store"]["params"]
    if "uri" in store:
        store["uri"] = str(root / "index" / f"{name}.db")
    else:
        store["path"] = str(root / "index" / "memory")
    data["ingest"]["state_dir"] = str(root / "index")
    data.update(overrides)
    config = root / "pipelines" / f"{name}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


@contextmanager
def serving(config: Path, root: Path, *, env: dict[str, str] | None = None, timeout_s: float = 60) -> Iterator[str]:
    """``rag ui``'s Streamlit app for ``config`` on a free port; its URL once healthy, stopped on exit."""
    from rag_app.cli.ui import streamlit_command

    port = free_port()
    command = streamlit_command(config, host="127.0.0.1", port=port, uploads_dir=root / "uploads",
                                reports_dir=root / "reports", max_upload_mb=10, browser=False)  # fmt: skip
    log_path = root / f"streamlit-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(command, cwd=root, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                assert time.monotonic() < deadline, f"streamlit did not answer on {url} within {timeout_s:.0f} s"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
