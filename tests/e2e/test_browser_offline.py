"""In a real headless Chromium, no request leaves the app's origin.

A document carries remote images (Markdown and HTML) pointing at a second local
server; the extractive generator quotes the sentence holding one, so both the
retrieved chunk and the answer contain it. The page is used as a person would
(ask, show the retrieved chunks, open the citation) while every request the
browser makes is recorded: any request to another origin fails the test, and
the second server must never have been contacted.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
QUESTION = "How do attention beacons grow with sequence length?"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    for module, extra in (("playwright", "pip install playwright"), ("streamlit", "pip install 'rag-app[ui]'")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({extra})"
    return None


if (_reason := _missing()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Request, expect, sync_playwright  # noqa: E402

from rag_app.cli.ui import streamlit_command  # noqa: E402
from rag_app.config import load_config  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Beacon(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def beacon() -> Iterator[tuple[str, list[str]]]:
    """Another origin a leaked request would reach (127.0.0.1 on a second port)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Beacon.hits
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, beacon: tuple[str, list[str]]) -> Iterator[str]:
    root = tmp_path_factory.mktemp("offline")
    leak, _ = beacon
    docs = root / "docs"
    docs.mkdir()
    (docs / "beacon.md").write_text(
        f"# Beacons ![h]({leak}/heading.png)\n\n"
        f"Attention beacons ![b]({leak}/doc.png) grow quadratically with sequence length.\n\n"
        f'Other notes <img src="{leak}/html.png"> about <iframe src="{leak}/frame"></iframe> nothing.\n',
        encoding="utf-8",
    )
    data = yaml.safe_load((REPO / "pipelines" / "test.yaml").read_text(encoding="utf-8"))
    data["store"]["params"]["path"] = str(root / "index" / "memory")
    data["ingest"]["state_dir"] = str(root / "index")
    data["generator"] = {"type": "extractive"}
    data["answer"] = {"min_score": 0.0}
    config = root / "pipelines" / "offline.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    pipeline = build_pipeline(load_config(config))
    assert pipeline.ingest([docs]).files_failed == 0
    pipeline.close()

    port = _free_port()
    command = streamlit_command(config, host="127.0.0.1", port=port, uploads_dir=root / "uploads",
                                reports_dir=root / "reports", max_upload_mb=10)
    log = (root / "streamlit.log").open("wb")
    proc = subprocess.Popen(command, cwd=root, env={**os.environ, "RAG_UI_WARMUP": "0"},
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (root / "streamlit.log").read_text(errors="replace")[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                assert time.monotonic() < deadline, "streamlit did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_no_request_leaves_the_app_origin(app_url: str, beacon: tuple[str, list[str]]) -> None:
    leak, hits = beacon
    outside: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith((app_url, "data:", "blob:", "about:")):
            outside.append(request.url)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", record)
            page.goto(app_url)
            area = page.get_by_test_id("stChatInputTextArea")
            expect(area).to_be_enabled(timeout=60_000)
            page.get_by_text("Show retrieved chunks").click()
            area.fill(QUESTION)
            area.press("Enter")
            assistant = page.get_by_test_id("stChatMessage").last
            expect(assistant).to_contain_text("total", timeout=60_000)
            expect(assistant).to_contain_text(f"{leak}/doc.png")  # the answer quotes it, as text
            chips = assistant.get_by_test_id("stPopover")
            if chips.count():
                chips.first.get_by_role("button").click()
                expect(page.get_by_test_id("stPopoverBody")).to_contain_text("doc.png")
            page.get_by_text("Retrieved chunks").first.click()
            expect(page.get_by_text(f"{leak}/html.png").first).to_be_visible()
            page.wait_for_timeout(1500)  # give any image or frame time to load
            assert page.locator(f'img[src^="{leak}"], iframe[src^="{leak}"]').count() == 0
        finally:
            browser.close()
    assert outside == [], f"requests left the app's origin: {outside}"
    assert hits == [], f"the beacon server was contacted: {hits}"
