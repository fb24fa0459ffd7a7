"""The Streamlit UI in a real headless Chromium, on the real default stack.

MiniLM + Milvus Lite + the local llama.cpp generator (pipelines/local.yaml), over a small copy of the
demo corpus. Measures question-submit → first streamed token as seen by the
browser, writes test-output/e2e/chat.png and test-output/e2e/timings.json.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, REPO, missing, serving, write_config

CORPUS_FILES = [
    "transformers/self-attention.md",
    "transformers/kv-cache.txt",
    "training/lora.md",
    "rag/what-is-rag.md",
]
QUESTION = "How does attention scale with sequence length?"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Set in the page before submitting: the browser's own clock for submit and first visible answer text.
WATCH_JS = """() => {
  window.__rag = {submit: null, first: null};
  const area = document.querySelector('[data-testid="stChatInputTextArea"]');
  area.addEventListener('keydown', e => { if (e.key === 'Enter' && !window.__rag.submit)
    window.__rag.submit = performance.now(); }, true);
  const answered = () => [...document.querySelectorAll('[data-testid="stChatMessage"]')].some(m =>
    m.querySelector('[data-testid="stChatMessageAvatarAssistant"]') &&
    [...m.querySelectorAll('[data-testid="stMarkdownContainer"]')].some(md =>
      !md.closest('[data-testid="stSpinner"]') && md.innerText.trim().length > 0));
  new MutationObserver((_, obs) => {
    if (window.__rag.submit && !window.__rag.first && answered()) {
      window.__rag.first = performance.now(); obs.disconnect(); }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


if (_reason := missing((("sentence_transformers", "pip install 'rag-app[hf]'"),
                         ("milvus_lite", "pip install 'rag-app[milvus]'")))) is not None:  # fmt: skip
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from rag_app.config import load_config  # noqa: E402
from rag_app.errors import MissingDependencyError  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small corpus ingested with pipelines/local.yaml (store moved to tmp), and the app serving it."""
    root = tmp_path_factory.mktemp("e2e")
    corpus = root / "corpus"
    for rel in CORPUS_FILES:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "data" / "corpus" / rel, corpus / rel)
    config = write_config(root, "local", base="local")

    t0 = time.perf_counter()
    try:
        pipeline = build_pipeline(load_config(config))
    except MissingDependencyError as exc:
        pytest.skip(f"pipelines/local.yaml cannot run here: {exc}")
    report = pipeline.ingest([corpus])
    pipeline.close()  # releases the Milvus Lite file for the app's process
    ingest_s = time.perf_counter() - t0
    assert report.files_failed == 0 and report.chunks_added > 0

    t0 = time.perf_counter()
    with serving(config, root, env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}) as url:
        yield {"url": url, "corpus": corpus, "ingest_s": ingest_s, "start_s": time.perf_counter() - t0}


def _ask(page: Page, question: str, timeout_ms: float) -> dict[str, float]:
    """Type and submit ``question``; wait for the finished answer (its timings caption)."""
    area = page.get_by_test_id("stChatInputTextArea")
    area.fill(question)
    page.evaluate(WATCH_JS)
    t0 = time.perf_counter()
    area.press("Enter")
    page.wait_for_function("() => window.__rag.first !== null", timeout=timeout_ms, polling=50)
    python_first = time.perf_counter() - t0
    done = page.get_by_test_id("stChatMessage").last.get_by_text(re.compile(r"total \d"))
    expect(done).to_be_visible(timeout=timeout_ms)
    marks = page.evaluate("() => window.__rag")
    return {
        "submit_to_first_token_ms": round(marks["first"] - marks["submit"], 1),
        "python_submit_to_first_token_s": round(python_first, 3),
        "submit_to_final_answer_s": round(time.perf_counter() - t0, 3),
    }


def test_chat_in_a_real_browser(server: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            t0 = time.perf_counter()
            page.goto(server["url"])
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled(timeout=60_000)
            page_s = time.perf_counter() - t0
            first = _ask(page, QUESTION, timeout_ms=120_000)

            page.screenshot(path=str(OUTPUT / "answer.png"), full_page=True)
            assistant = page.get_by_test_id("stChatMessage").last
            chips = assistant.get_by_test_id("stPopover")
            assert chips.count() >= 1, f"the answer cites no source: {assistant.inner_text()[:300]!r}"
            chip = chips.first
            label = re.search(r"\[(\d+)\]\s+(\S+\.\w+)", chip.inner_text())  # icons render as ligature text
            assert label, chip.inner_text()
            file_name = label.group(2)
            chip.get_by_role("button").click()
            body = page.get_by_test_id("stPopoverBody")
            expect(body).to_be_visible()
            expect(body).to_contain_text(file_name)
            expect(body).to_contain_text("score")
            source = next(server["corpus"].rglob(file_name))
            source_text = " ".join(source.read_text(encoding="utf-8", errors="ignore").split())
            # the popover reruns the app when it opens (on_change="rerun"): read its text once that settles
            def quotes_source(lines: list[str]) -> bool:
                return any(len(line) >= 30 and line[:30] in source_text for line in lines)

            deadline = time.perf_counter() + 15
            while True:
                lines = [" ".join(line.split()) for line in body.inner_text().splitlines()]
                if quotes_source(lines) or time.perf_counter() > deadline:
                    break
                page.wait_for_timeout(250)
            assert quotes_source(lines), (lines, source)
            page.screenshot(path=str(OUTPUT / "chat.png"), full_page=True)

            page.keyboard.press("Escape")
            page.get_by_role("button", name="New conversation").click()
            expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
            warm = _ask(page, QUESTION, timeout_ms=120_000)
        finally:
            browser.close()
    timings = {
        "question": QUESTION,
        "corpus_files": len(CORPUS_FILES),
        "first_question": first,
        "warm_question": warm,
        "page_ready_s": round(page_s, 3),
        "ingest_s": round(server["ingest_s"], 3),
        "server_start_s": round(server["start_s"], 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "chromium": subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout.strip(),
    }
    (OUTPUT / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    with capsys.disabled():
        print(
            f"\nbrowser: question submit -> first token {first['submit_to_first_token_ms']:.0f} ms "
            f"(first question), {warm['submit_to_first_token_ms']:.0f} ms (warm); "
            f"full answer {first['submit_to_final_answer_s']:.1f} s; details in {OUTPUT / 'timings.json'}"
        )
