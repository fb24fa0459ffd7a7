"""Uploads never overwrite a different upload silently, and the notice counts what landed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_app.ui.uploads import UploadPolicy, sanitize_filename, save_upload, save_uploads, stored_name
from tests.ui.conftest import UiEnv
from tests.ui.test_ui_documents import document_names, ingest_button, metric, open_documents

POLICY = UploadPolicy(frozenset({".md", ".txt"}), max_bytes=10_000)


def test_names_that_sanitise_alike_are_stored_apart(tmp_path: Path) -> None:
    batch = save_uploads(
        tmp_path, [("report?.md", b"question"), ("report*.md", b"star"), ("report.md", b"plain")], POLICY
    )
    assert batch.refused == [] and len(batch.saved) == len({p.name for p in batch.saved}) == 3
    assert sorted(p.read_bytes() for p in tmp_path.iterdir()) == [b"plain", b"question", b"star"]
    assert (tmp_path / "report.md").read_bytes() == b"plain"
    assert [n.split(":")[0] for n in batch.notes] == ["report?.md", "report*.md"]


def test_the_same_lossy_name_maps_to_the_same_file_so_a_new_version_replaces_it(tmp_path: Path) -> None:
    assert stored_name("report?.md") == stored_name("x/report?.md") != stored_name("report*.md")
    first = save_upload(tmp_path, "report?.md", b"v1", POLICY)
    second = save_upload(tmp_path, "report?.md", b"v2", POLICY)
    assert first == second and second.read_bytes() == b"v2" and len(list(tmp_path.iterdir())) == 1


def test_same_name_in_one_batch_keeps_both_contents_and_dedupes_identical_ones(tmp_path: Path) -> None:
    batch = save_uploads(
        tmp_path, [("a/notes.md", b"one"), ("b/notes.md", b"two"), ("c/notes.md", b"one")], POLICY
    )
    assert len(batch.saved) == 2 and batch.saved[0] == tmp_path.resolve() / "notes.md"
    assert sorted(p.read_bytes() for p in tmp_path.iterdir()) == [b"one", b"two"]
    assert any("identical to another upload" in n and n.startswith("c/notes.md") for n in batch.notes)


@pytest.mark.parametrize(("name", "stem"), [("😀.md", "upload"), ("日本語.md", "日本語"), ("naïve 😀.txt", "naïve")])
def test_non_ascii_names_keep_their_extension(name: str, stem: str) -> None:
    assert sanitize_filename(name) == f"{stem}.{name.rsplit('.', 1)[1]}"
    assert Path(stored_name(name)).suffix == Path(name).suffix


def test_emoji_names_do_not_collide(tmp_path: Path) -> None:
    batch = save_uploads(tmp_path, [("😀.md", b"smile"), ("🙂.md", b"slight")], POLICY)
    assert batch.refused == [] and len({p.name for p in batch.saved}) == 2


def test_colliding_names_in_the_ui_all_land_and_the_notice_counts_documents(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    at.file_uploader[0].set_value(
        [
            ("report?.md", b"# Q\n\nQuestion marks about rotary embeddings.\n", "text/markdown"),
            ("report*.md", b"# S\n\nStars about sliding window attention.\n", "text/markdown"),
            ("report.md", b"# P\n\nPlain notes about grouped query attention.\n", "text/markdown"),
        ]
    ).run()
    ingest_button(at).click().run()
    assert not at.exception, at.exception
    (success,) = at.success
    assert success.value.startswith("Ingested 3 of 3 file(s)")
    assert metric(at, "Documents") == "6"
    assert len([n for n in document_names(at) if n.startswith("report")]) == 3
    assert len(list(ui_env.uploads.iterdir())) == 3


def test_identical_duplicates_are_counted_once_in_the_ui(ui_env: UiEnv) -> None:
    at = open_documents(ui_env)
    note = b"# Same\n\nThe same note about key-value caches.\n"
    at.file_uploader[0].set_value(
        [
            ("a.md", note, "text/markdown"),
            ("a.md", note, "text/markdown"),
            ("b.md", b"# B\n\nOther.\n", "text/markdown"),
        ]
    ).run()
    ingest_button(at).click().run()
    assert not at.exception, at.exception
    (warning,) = at.warning
    assert warning.value.startswith("Ingested 2 of 3 file(s)")
    assert any("identical to another upload" in i.value for i in at.info)
    assert metric(at, "Documents") == "5"
