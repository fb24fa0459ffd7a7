"""The chat UI people expect, in a real headless Chromium.

Example questions on the empty page, copy and regenerate under the answer, a
citation popover whose long path wraps instead of being clipped, the source
panel with the cited passage highlighted in its section, and conversations
that are listed, survive a restart of the app and can be deleted. Every step
checks the layout (nothing clipped, no toast over the content) and leaves a
screenshot in test-output/e2e/ui-*.png.

Runs on the test pipeline (hashing embedder, memory store, extractive
generator): no model, a few seconds per step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, missing, serving, write_config

NESTED = "a-rather-long-folder-name/with-several-levels/of-nesting-that-make/the-path-long"
DOC = (
    "# Self-attention\n\n"
    "Transformers replaced recurrence with attention layers in 2017, and every large language model since "
    "then is built from a stack of such layers with feed-forward blocks between them.\n\n"
    "## Cost\n\n"
    "Memory traffic dominates on accelerators: the attention matrix is read and written several times "
    "per layer unless kernels fuse the softmax with both matrix products.\n\n"
    "Self-attention compares every token with every other token, so its cost grows quadratically "
    "with sequence length.\n\n"
    "Doubling the context window therefore quadruples the work of every attention layer in the model, "
    "which is why long documents are expensive to process.\n\n"
    "## Remedies\n\n"
    "Sparse and linear attention variants reduce the cost for long inputs, at some loss of quality "
    "on tasks that need exact recall over the whole context.\n"
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


if (_reason := missing()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402

from rag_app.config import load_config  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402

# Elements whose text is cut off (wider than their box) or that stick out of the viewport.
CLIPPED_JS = """(selector) => [...document.querySelectorAll(selector)].filter(e => e.offsetParent !== null)
  .filter(e => getComputedStyle(e).display !== 'inline' && e.clientWidth > 1)  // not screen-reader-only text
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => `${e.tagName}: ${e.innerText.slice(0, 80)} (${e.scrollWidth} > ${e.clientWidth})`)"""
# Toasts that cover any of the given elements.
TOAST_JS = """(selector) => {
  const boxes = [...document.querySelectorAll(selector)].map(e => e.getBoundingClientRect());
  return [...document.querySelectorAll('[data-testid="stToast"]')].filter(t => {
    const r = t.getBoundingClientRect();
    return boxes.some(b => r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom);
  }).map(t => t.innerText.slice(0, 80));
}"""
CONTENT = (
    '[data-testid="stHeading"], [data-testid="stCaptionContainer"], [data-testid="stChatMessage"], '
    '[data-testid="stPopoverBody"], section[role="dialog"], [data-testid="stChatInput"]'
)
TEXT = (
    '[data-testid="stHeading"] h1, [data-testid="stSidebar"] button *, [data-testid="stPopoverBody"] code, '
    '[data-testid="stPopoverBody"] p, section[role="dialog"] p, section[role="dialog"] h2'
)


# Overlays (popover, dialog) drawn over each other.
OVERLAP_JS = """() => {
  const shown = [...document.querySelectorAll('[data-testid="stPopoverBody"], section[role="dialog"]')]
    .filter(e => e.offsetParent !== null || getComputedStyle(e).position === 'fixed')
    .map(e => [e.getAttribute('aria-label') || e.innerText.slice(0, 30), e.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0);
  const hits = [];
  for (let i = 0; i < shown.length; i++) for (let j = i + 1; j < shown.length; j++) {
    const [a, r] = shown[i], [b, q] = shown[j];
    if (r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom) hits.push(`${a} / ${b}`);
  }
  return hits;
}"""


# The popover's <code> holding the full path lies inside the popover body, horizontally.
INSIDE_POPOVER_JS = """(path) => {
  const body = document.querySelector('[data-testid="stPopoverBody"]');
  const code = body && [...body.querySelectorAll('code')].find(c => c.innerText === path);
  if (!code) return false;
  const r = code.getBoundingClientRect(), b = body.getBoundingClientRect();
  return r.height > 0 && r.left >= b.left && r.right <= b.right + 1;
}"""


@pytest.fixture(scope="module")
def app_setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("chat-ui")
    doc = root / "docs" / NESTED / "self-attention-notes.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(DOC, encoding="utf-8")
    config = write_config(
        root, "chat-ui",
        chunker={"type": "markdown", "params": {"chunk_size": 40, "chunk_overlap": 0}},  # a paragraph each
        generator={"type": "extractive"}, answer={"min_score": 0.0},
    )  # fmt: skip
    pipeline = build_pipeline(load_config(config))
    assert pipeline.ingest([root / "docs"]).files_failed == 0
    pipeline.close()
    return {"root": root, "config": config, "doc": doc.resolve()}


@contextmanager
def app(setup: dict[str, Any]) -> Iterator[str]:
    """The app on a fresh port; stopped (the whole process) on exit."""
    with serving(setup["config"], setup["root"], env={"RAG_UI_WARMUP": "0"}) as url:
        yield url


def check_layout(page: Page, name: str) -> None:
    """Screenshot ``name``; fail on clipped text or a toast over the content."""
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(OUTPUT / f"ui-{name}.png"), full_page=True)
    assert page.evaluate(CLIPPED_JS, TEXT) == [], f"clipped text in ui-{name}.png"
    assert page.evaluate(TOAST_JS, CONTENT) == [], f"a toast covers the page in ui-{name}.png"
    assert page.evaluate(OVERLAP_JS) == [], f"overlays drawn over each other in ui-{name}.png"


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled(timeout=60_000)


def answer(page: Page) -> Locator:
    done = page.get_by_test_id("stChatMessage").last
    expect(done).to_contain_text("total", timeout=60_000)
    return done


def sidebar_conversations(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar").locator(
        '[class*="st-key-conv-open-"] button[data-testid^="stBaseButton"]:visible'
    )


def test_chat_ui_features_in_a_real_browser(app_setup: dict[str, Any]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            with app(app_setup) as url:
                context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
                open_app(page, url)
                # 1. example questions on the empty page; one click asks
                examples = page.locator('[class*="st-key-example-"] button')
                example = examples.filter(has_text="What is Self-attention?")
                expect(example).to_be_visible()
                check_layout(page, "empty")
                example.click()
                assistant = answer(page)
                expect(assistant).to_contain_text("quadratically")
                expect(examples).to_have_count(0)  # only on the empty page
                check_layout(page, "answer")

                # 2. copy puts the answer and its sources on the clipboard
                assistant.locator(".rag-copy").click()
                expect(assistant.locator('.rag-copy[data-state="copied"]')).to_have_count(1)
                copied = page.evaluate("() => navigator.clipboard.readText()")
                assert "quadratically" in copied and re.search(r"\n\nSources:\n\[\d+\] a-rather-long", copied), copied

                # 3. the citation popover shows the whole path, wrapped, inside the popover
                chip = assistant.get_by_test_id("stPopover").first
                number = re.search(r"\[(\d+)\]", chip.inner_text())
                assert number, chip.inner_text()
                chip.get_by_role("button").click()
                body = page.get_by_test_id("stPopoverBody")
                expect(body).to_be_visible()
                path = body.locator("code", has_text="self-attention-notes.md")
                expect(path).to_have_text(str(app_setup["doc"]))
                # once the popover has settled (opening it reruns the script and animates it),
                # the path lies inside it, wrapped; a path that overflows never satisfies this
                page.wait_for_function(INSIDE_POPOVER_JS, arg=str(app_setup["doc"]), timeout=5_000)
                check_layout(page, "popover")

                # 4. the source panel: the passage highlighted in its section
                body.get_by_role("button", name="Show in document").click()
                dialog = page.get_by_role("dialog", name=f"Source [{number.group(1)}]")
                expect(dialog).to_be_visible()
                expect(dialog).to_contain_text("section Self-attention > Cost")
                cited = dialog.locator(".st-key-rag-cited")
                expect(cited).to_contain_text("grows quadratically with sequence length")
                expect(cited).not_to_contain_text("Memory traffic")
                expect(dialog).to_contain_text("Memory traffic dominates")  # the section around it ...
                expect(dialog).to_contain_text("quadruples the work")
                expect(dialog).not_to_contain_text("Sparse and linear")  # ... and only that section
                colour = cited.evaluate("e => getComputedStyle(e).backgroundColor")
                assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour
                check_layout(page, "source-panel")
                dialog.get_by_role("button", name="Close").click()
                expect(dialog).to_have_count(0)

                # 5. regenerate answers again in place
                page.get_by_role("button", name="Regenerate").click()
                expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
                answer(page)

                # 6. a second conversation, both listed
                page.get_by_role("button", name="New conversation").click()
                expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
                area = page.get_by_test_id("stChatInputTextArea")
                area.fill("Which attention variants reduce the cost for long inputs?")
                area.press("Enter")
                answer(page)
                expect(sidebar_conversations(page)).to_have_count(2)
                check_layout(page, "conversations")

            # 7. after a restart of the app both are still listed and reopen with their answers
            with app(app_setup) as url:
                open_app(page, url)
                conversations = sidebar_conversations(page)
                expect(conversations).to_have_count(2)
                conversations.filter(has_text="What is Self-attention?").click()
                expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
                expect(page.get_by_test_id("stChatMessage").last).to_contain_text("quadratically")
                check_layout(page, "reopened")
                # 8. deleting the open one removes it from the list and clears the page
                row = page.get_by_test_id("stSidebar").locator(
                    'div[class*="st-key-conv-"]:not([class*="st-key-conv-open-"]):not([class*="st-key-conv-delete-"])'
                ).filter(has_text="What is Self-attention?")
                row.locator('[class*="st-key-conv-delete-"] button[data-testid^="stBaseButton"]:visible').click()
                expect(conversations).to_have_count(1)
                expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
                check_layout(page, "deleted")
        finally:
            browser.close()
