"""Documents page: stats, validated uploads stored safely, ingest with per-file errors, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import UiEnv

NOTE = b"# Evil\n\nA perfectly harmless note about rotary position embeddings and their frequencies.\n"


def open_documents(env: UiEnv) -> AppTest:
    at = env.app().run()
    at.switch_page("views/documents.py").run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> Any:
    return next(m.value for m in at.metric if m.label == label)


def document_names(at: AppTest) -> list[str]:
    frame = at.dataframe[0].value
    return [Path(p).name for p in frame["document"]]


def ingest_button(at: AppTest) -> Any:
    return next(b for b in at.button if b.label.startswith("Ingest"))


def test_stats_and_listing(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    assert at.title[0].value == "Documents"
    assert metric(at, "Documents") == "3" and int(metric(at, "Chunks")) >= 3 and metric(at, "Store") == "memory"
    assert sorted(document_names(at)) == ["attention.md", "bm25.txt", "lora.md"]


def test_upload_with_traversal_name_lands_inside_the_uploads_dir(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    uploader = at.file_uploader[0]
    assert {".md", ".pdf", ".txt", ".docx", ".html"} <= {f".{t}" for t in uploader.allowed_type} | {
        t for t in uploader.allowed_type
    }
    uploader.set_value(("../../evil.md", NOTE, "text/markdown")).run()
    ingest_button(at).click().run()
    assert not at.exception, at.exception
    stored = ui_env.uploads / "evil.md"
    assert stored.read_bytes() == NOTE
    assert not (ui_env.root / "evil.md").exists() and not (ui_env.root.parent / "evil.md").exists()
    assert [p.name for p in ui_env.uploads.iterdir()] == ["evil.md"]  # no temp files left behind
    (success,) = at.success
    assert success.value.startswith("Ingested 1 of 1 file(s)")
    assert metric(at, "Documents") == "4" and "evil.md" in document_names(at)
    assert not at.file_uploader[0].value, "the uploader is reset after ingesting"


def test_wrong_type_and_broken_file_are_reported_per_file(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    at.file_uploader[0].set_value(
        [
            ("tool.exe", b"MZ\x90\x00binary", "application/octet-stream"),
            ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
            ("good.txt", b"Rotary embeddings rotate query and key vectors.", "text/plain"),
        ]
    ).run()
    ingest_button(at).click().run()
    assert not at.exception, at.exception
    (summary,) = at.warning
    assert summary.value.startswith("Ingested 1 of 3 file(s)")
    errors = [e.value for e in at.error]
    assert any(".exe" in e and "cannot be ingested" in e for e in errors), errors
    assert any(e.startswith("broken.pdf") for e in errors), errors
    assert not (ui_env.uploads / "tool.exe").exists()
    assert "good.txt" in document_names(at) and "broken.pdf" not in document_names(at)


def test_delete_document_removes_chunks_and_the_uploaded_file(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    at.file_uploader[0].set_value(("notes.md", NOTE, "text/markdown")).run()
    ingest_button(at).click().run()
    chunks_before = int(metric(at, "Chunks"))
    stored = ui_env.uploads / "notes.md"
    assert stored.is_file()
    picker = at.selectbox(key="delete_choice")
    picker.select(str(stored)).run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Deleted ")
    assert "notes.md" not in document_names(at)
    assert int(metric(at, "Chunks")) < chunks_before
    assert not stored.exists()


def test_empty_collection_shows_a_hint(ui_env: UiEnv) -> None:
    at = ui_env.app().run()
    at.sidebar.selectbox(key="config_picker").select(ui_env.empty_config.resolve()).run()
    at.switch_page("views/documents.py").run()
    assert not at.exception and not at.error
    assert metric(at, "Chunks") == "0"
    assert any("No documents yet" in i.value for i in at.info)
