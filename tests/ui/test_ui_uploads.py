"""Safe storage of uploads and the app's start-up settings (pure functions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag_app.config import parse_config
from rag_app.ui.settings import load_settings
from rag_app.ui.uploads import (
    UploadError,
    UploadPolicy,
    describe_sources,
    policy_for,
    sanitize_filename,
    save_upload,
    stored_upload,
    target_path,
    validate_upload,
)
from tests.conftest import fast_config_dict

POLICY = UploadPolicy(frozenset({".md", ".txt", ".pdf"}), max_bytes=1000)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("notes.md", "notes.md"),
        ("../../evil.md", "evil.md"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("a b  c.md", "a b_c.md"),
        ("rm -rf $(x);.md", "rm -rf_x.md"),
        ("...hidden.md", "hidden.md"),
        ("résumé.md", "résumé.md"),
        ("con.txt", "upload_con.txt"),
        ("x" * 300 + ".md", "x" * 117 + ".md"),
        ("nul\x00byte.md", "nulbyte.md"),
    ],
)
def test_sanitize_filename(name: str, safe: str) -> None:
    assert sanitize_filename(name) == safe


@pytest.mark.parametrize("name", ["", "..", "/", "noextension", ".bashrc", "../..", "..md"])
def test_sanitize_refuses_names_without_a_usable_file_name(name: str) -> None:
    with pytest.raises(UploadError):
        sanitize_filename(name)


def test_validate_type_size_and_empty() -> None:
    assert validate_upload("../a.MD", 10, POLICY) == "a.MD"
    with pytest.raises(UploadError, match="'.exe' files cannot be ingested"):
        validate_upload("a.exe", 10, POLICY)
    with pytest.raises(UploadError, match="empty"):
        validate_upload("a.md", 0, POLICY)
    with pytest.raises(UploadError, match="upload limit"):
        validate_upload("a.md", 1001, POLICY)


def test_save_upload_stays_inside_and_replaces_atomically(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    path = save_upload(uploads, "../../../evil.md", b"one", POLICY)
    assert path == (uploads / "evil.md").resolve() and path.read_bytes() == b"one"
    save_upload(uploads, "evil.md", b"two", POLICY)
    assert path.read_bytes() == b"two" and os.listdir(uploads) == ["evil.md"]
    with pytest.raises(UploadError):
        save_upload(uploads, "evil.sh", b"x", POLICY)
    assert os.listdir(uploads) == ["evil.md"]


def test_save_upload_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_bytes(b"keep")
    (uploads / "link.md").symlink_to(outside)
    save_upload(uploads, "link.md", b"new", POLICY)
    assert outside.read_bytes() == b"keep"
    assert not (uploads / "link.md").is_symlink() and (uploads / "link.md").read_bytes() == b"new"


def test_target_path_refuses_anything_but_a_plain_name(tmp_path: Path) -> None:
    for bad in ("../x.md", "a/b.md", "..", ""):
        with pytest.raises(UploadError):
            target_path(tmp_path, bad)


def test_stored_upload_only_inside_the_uploads_dir(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    inside = save_upload(uploads, "a.md", b"x", POLICY)
    other = tmp_path / "b.md"
    other.write_text("x")
    assert stored_upload(uploads, str(inside)) == inside
    assert stored_upload(uploads, str(other)) is None
    assert stored_upload(uploads, str(uploads / "missing.md")) is None


def test_policy_follows_the_config_loaders_and_size(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["sources"] = {"max_file_mb": 2, "loaders": {".rst": {"type": "text"}}}
    config = parse_config(data, base_dir=tmp_path)
    policy = policy_for(config, max_mb=50)
    assert {".md", ".pdf", ".docx", ".html", ".txt", ".rst"} <= policy.extensions
    assert policy.max_bytes == 2 * 2**20 and "rst" in policy.accept_types()
    assert policy_for(config, max_mb=1).max_bytes == 2**20


def test_describe_sources(tmp_path: Path) -> None:
    inside, outside = str(tmp_path / "d" / "a.md"), "/elsewhere/b.md"
    assert describe_sources([inside, outside], tmp_path) == {inside: "d/a.md", outside: outside}


def test_settings_from_arguments_then_environment(tmp_path: Path) -> None:
    env = {"RAG_CONFIG": "env.yaml", "RAG_UPLOADS_DIR": "/abs/up", "RAG_UI_MAX_UPLOAD_MB": "5"}
    s = load_settings(["--config", "arg.yaml", "-c", "pytest.ini", "--unknown"], env, tmp_path)
    assert s.config == tmp_path / "arg.yaml" and s.uploads_dir == Path("/abs/up")
    assert s.reports_dir == tmp_path / "eval" / "reports" and s.max_upload_mb == 5 and s.warmup
    s = load_settings([], {"RAG_UI_WARMUP": "0"}, tmp_path)
    assert s.config == tmp_path / "pipelines" / "local.yaml" and s.uploads_dir == tmp_path / "data" / "uploads"
    assert not s.warmup
