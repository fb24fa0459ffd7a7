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
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, missing, serving, write_config

QUESTION = "How do attention beacons grow with sequence length?"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if (_reason := missing()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Request, expect, sync_playwright  # noqa: E402

from rag_app.config import load_config  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402


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
    config = write_config(root, "offline", generator={"type": "extractive"}, answer={"min_score": 0.0})
    pipeline = build_pipeline(load_config(config))
    assert pipeline.ingest([docs]).files_failed == 0
    pipeline.close()
    with serving(config, root, env={"RAG_UI_WARMUP": "0"}) as url:
        yield url


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
