"""The source panel: a cited chunk in its page / Markdown section, the passage highlighted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from rag_app.config import load_config
from rag_app.pipeline import build_pipeline
from rag_app.types import Chunk, Document
from rag_app.ui.source_panel import PASSAGE_KEY, context_for, locate
from tests.ui.conftest import UiEnv

Ask = Callable[[AppTest, str], AppTest]

GUIDE = (
    "# Guide\n\nIntro text.\n\n"
    "## Caching\n\nKeys and values of past tokens are kept, so each decoding step "
    "only computes attention for the newest token.\n\n"
    "## Batching\n\nRequests are grouped to fill the accelerator.\n"
)


FILLER = " ".join(f"filler{n}" for n in range(150))
LONG_GUIDE = (
    f"# Guide\n\n{FILLER}.\n\n"
    "## Caching\n\nKeys and values of past tokens are kept, so each decoding step "
    "only computes attention for the newest token.\n\n"
    f"## Batching\n\nRequests are grouped to fill the accelerator. {FILLER}.\n"
)


def _chunk(text: str, passage: str, **meta: Any) -> Chunk:
    start = text.index(passage)
    meta = {"start_char": start, "end_char": start + len(passage), **meta}
    return Chunk("d:00001", "d", "/docs/guide.md", passage, meta)


def test_markdown_chunk_is_shown_in_its_section() -> None:
    passage = "Keys and values of past tokens are kept"
    chunk = _chunk(GUIDE, passage, section="Guide > Caching")
    context = context_for(Document("d", "/docs/guide.md", GUIDE, {"format": "markdown"}), chunk)
    assert context is not None
    assert context.passage == passage
    assert context.before == "## Caching\n\n"  # from the section's heading ...
    assert context.after.startswith(", so each decoding step") and "Batching" not in context.after  # ... to the next
    assert context.scope == "section Guide > Caching"
    # a chunk that starts with its section's heading has nothing of the section before it
    heading = _chunk(GUIDE, "## Caching\n\nKeys and values", section="Guide > Caching")
    at_heading = context_for(Document("d", "/docs/guide.md", GUIDE, {"format": "markdown"}), heading)
    assert at_heading is not None and at_heading.before == "" and at_heading.passage.startswith("## Caching")


def test_pdf_chunk_is_shown_on_its_page_and_long_context_is_cut_at_lines() -> None:
    page = "\n".join(f"line {n} of the page" for n in range(400))
    passage = "line 200 of the page"
    chunk = _chunk(page, passage, page=4)
    context = context_for(Document("d", "/docs/a.pdf", page, {"format": "pdf", "page": 4}), chunk, limit=100)
    assert context is not None and context.scope == "page 4" and context.passage == passage
    assert 0 < len(context.before) <= 100 and context.before.startswith("line ")  # whole lines only
    assert 0 < len(context.after) <= 100 and context.after.startswith("\n")


def test_a_changed_file_is_searched_and_a_missing_passage_reported() -> None:
    passage = "Requests are grouped"
    chunk = _chunk(GUIDE, passage)
    edited = "# New preface\n\n" + GUIDE  # offsets are stale now
    assert locate(edited, chunk) == (edited.index(passage), edited.index(passage) + len(passage))
    context = context_for(Document("d", "/docs/guide.md", edited, {"format": "markdown"}), chunk)
    assert context is not None and context.before == "## Batching\n\n"
    assert context_for(Document("d", "/docs/guide.md", "all rewritten", {}), chunk) is None


def _dialog(at: AppTest) -> Any:
    (dialog,) = at.get("dialog")
    return dialog


def test_show_in_document_opens_the_panel_with_the_passage_highlighted(ui_env: UiEnv, ask: Ask) -> None:
    guide = ui_env.docs / "guide.md"
    guide.write_text(LONG_GUIDE, encoding="utf-8")
    pipeline = build_pipeline(load_config(ui_env.config))
    assert pipeline.ingest([ui_env.docs]).files_failed == 0
    pipeline.close()
    ui_env.generator.pieces = ["Past keys and values are cached [1]."]
    at = ask(ui_env.app().run(), "How are keys and values of past tokens kept while decoding?")
    chips = list(at.get("popover"))
    assert chips and chips[0].proto.popover.label.startswith("[1] guide.md")
    at.button(key="turn0-open-1").click().run()
    assert not at.exception
    dialog = _dialog(at)
    assert dialog.proto.dialog.title == "Source [1]"
    captions = "\n".join(str(c.value) for c in dialog.caption)
    assert str(guide.resolve()) in captions  # the whole path, not only the file name
    assert "section Guide > Caching" in captions
    (passage,) = [b for b in _blocks(dialog) if isinstance(b, Block) and str(b.proto.id).endswith(PASSAGE_KEY)]
    highlighted = "\n".join(str(m.value) for m in passage.markdown)
    assert "Keys and values of past tokens are kept" in highlighted
    assert "filler" not in highlighted  # the passage is the chunk, not the whole file ...
    around = [str(m.value) for m in dialog.markdown if m not in passage.markdown]
    assert "filler" in "\n".join(around)  # ... shown in the text around it
    # the panel closes by itself on the next interaction
    at = at.run()
    assert not at.get("dialog")


def test_panel_for_a_deleted_file_shows_the_stored_chunk(ui_env: UiEnv, ask: Ask) -> None:
    at = ask(ui_env.app().run(), "How does attention scale with sequence length?")
    (ui_env.docs / "attention.md").unlink()
    at.button(key="turn0-open-1").click().run()
    dialog = _dialog(at)
    (info,) = dialog.info
    assert "no longer on this machine" in info.value
    assert "quadratically with sequence length" in "\n".join(str(m.value) for m in dialog.markdown)


def _blocks(root: Any) -> list[Any]:
    found = []
    for child in getattr(root, "children", {}).values():
        if getattr(child, "type", None) is not None:
            found.append(child)
            found.extend(_blocks(child))
    return found


def test_source_document_reads_the_page_of_the_chunk(ui_env: UiEnv, tmp_path: Path) -> None:
    pipeline = build_pipeline(load_config(ui_env.config))
    hit = pipeline.search("LoRA low-rank update", top_k=1)[0]
    document = pipeline.source_document(hit.chunk)
    assert document is not None and document.doc_id == hit.chunk.doc_id
    start, end = hit.chunk.metadata["start_char"], hit.chunk.metadata["end_char"]
    assert document.text[start:end] == hit.chunk.text
    gone = Chunk("x:00000", "x", str(tmp_path / "gone.md"), "text", {})
    assert pipeline.source_document(gone) is None
    pipeline.close()
