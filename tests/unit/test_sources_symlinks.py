"""Symbolic links never lead ingestion out of the folders given to the run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.config import PipelineConfig, SourcesConfig
from rag_app.ingest.sources import discover
from rag_app.pipeline import build_pipeline

MakeConfig = Callable[..., PipelineConfig]
SECRET = "root:x:0:0:root:/root:/bin/bash zanzibar-secret\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files next to (not inside) the ingested folder, like /etc."""
    root = tmp_path / "etc"
    root.mkdir()
    (root / "passwd").write_text(SECRET, encoding="utf-8")
    (root / "notes.md").write_text("# Elsewhere\n\nzanzibar outside notes.\n", encoding="utf-8")
    return root


def relpaths(paths: list[Path], **sources: object) -> list[str]:
    return [f.relpath for f in discover(paths, SourcesConfig(**sources)).files]


def refusals(paths: list[Path], **sources: object) -> list[str]:
    return [r.message for r in discover(paths, SourcesConfig(**sources)).refused]


def test_file_link_out_of_the_folder_is_refused_in_one_line(
    make_config: MakeConfig, docs_dir: Path, outside: Path
) -> None:
    (docs_dir / "passwd.txt").symlink_to(outside / "passwd")
    pipeline = build_pipeline(make_config())
    report = pipeline.ingest([docs_dir])
    assert (report.files_seen, report.files_new, report.files_failed) == (4, 3, 1)
    (error,) = report.errors
    assert error["source"] == "passwd.txt"
    assert error["error"].startswith("passwd.txt: symbolic link to a location outside the folder(s) being ingested")
    assert "\n" not in error["error"] and "root:x" not in error["error"]
    assert all("zanzibar" not in h.chunk.text for h in pipeline.search("zanzibar root bash", top_k=20))
    assert all(not d["source"].startswith(outside.as_posix()) for d in pipeline.documents())


def test_directory_link_out_is_refused_and_not_walked(docs_dir: Path, outside: Path) -> None:
    (docs_dir / "etc").symlink_to(outside, target_is_directory=True)
    found = discover([docs_dir], SourcesConfig())
    assert not any(f.path.is_relative_to(outside) for f in found.files)
    assert [r.message for r in found.refused] == [
        "etc: symbolic link to a location outside the folder(s) being ingested; refused"
    ]


def test_links_out_are_refused_even_with_follow_symlinks(docs_dir: Path, outside: Path) -> None:
    (docs_dir / "passwd.txt").symlink_to(outside / "passwd")
    assert len(refusals([docs_dir], follow_symlinks=True)) == len(refusals([docs_dir], follow_symlinks=False)) == 1
    assert "outside" in refusals([docs_dir], follow_symlinks=False)[0]


def test_links_inside_are_followed_and_each_file_is_ingested_once(
    make_config: MakeConfig, docs_dir: Path
) -> None:
    (docs_dir / "alias.md").symlink_to(docs_dir / "lora.md")
    (docs_dir / "more").symlink_to(docs_dir / "notes", target_is_directory=True)
    found = discover([docs_dir], SourcesConfig())
    assert found.refused == []
    assert sorted(f.source for f in found.files) == sorted(
        p.resolve().as_posix() for p in (docs_dir / "attention.md", docs_dir / "lora.md", docs_dir / "notes/bm25.txt")
    )
    report = build_pipeline(make_config()).ingest([docs_dir])
    assert (report.files_seen, report.files_new, report.files_failed) == (3, 3, 0)


def test_follow_symlinks_false_refuses_links_inside_too(docs_dir: Path) -> None:
    (docs_dir / "alias.md").symlink_to(docs_dir / "lora.md")
    assert refusals([docs_dir], follow_symlinks=False) == [
        "alias.md: symbolic link not followed (sources.follow_symlinks is false)"
    ]
    assert sorted(relpaths([docs_dir], follow_symlinks=False)) == ["attention.md", "lora.md", "notes/bm25.txt"]


def test_a_link_inside_to_an_excluded_file_is_refused(docs_dir: Path) -> None:
    hidden = docs_dir / ".private"
    hidden.mkdir()
    (hidden / "keys.txt").write_text("secret keys", encoding="utf-8")
    (docs_dir / "keys.txt").symlink_to(hidden / "keys.txt")
    assert refusals([docs_dir]) == ["keys.txt: symbolic link to an excluded file (sources.exclude); refused"]
    assert "keys.txt" not in relpaths([docs_dir])


def test_loops_and_broken_links_end_the_walk_with_one_line_each(make_config: MakeConfig, docs_dir: Path) -> None:
    (docs_dir / "notes" / "up").symlink_to(docs_dir, target_is_directory=True)
    (docs_dir / "self").symlink_to(".", target_is_directory=True)
    (docs_dir / "a.md").symlink_to(docs_dir / "b.md")
    (docs_dir / "b.md").symlink_to(docs_dir / "a.md")
    (docs_dir / "gone.txt").symlink_to(docs_dir / "missing.txt")
    assert sorted(refusals([docs_dir])) == [
        "a.md: symbolic link loop; refused",
        "b.md: symbolic link loop; refused",
        "gone.txt: broken symbolic link; refused",
        "notes/up: symbolic link loop (points back at a folder it is inside); refused",
        "self: symbolic link loop (points back at a folder it is inside); refused",
    ]
    report = build_pipeline(make_config()).ingest([docs_dir])
    assert (report.files_new, report.files_failed) == (3, 5)
    assert all("\n" not in e["error"] for e in report.errors)


def test_a_link_named_on_the_command_line_is_the_users_choice(docs_dir: Path, outside: Path) -> None:
    link = docs_dir / "elsewhere.md"
    link.symlink_to(outside / "notes.md")
    found = discover([link], SourcesConfig())
    assert [f.source for f in found.files] == [(outside / "notes.md").as_posix()] and found.refused == []
    assert found.roots == [(outside / "notes.md").as_posix()]


def test_a_link_to_another_root_of_the_same_run_is_inside(docs_dir: Path, outside: Path) -> None:
    (docs_dir / "passwd.txt").symlink_to(outside / "notes.md")
    found = discover([docs_dir, outside], SourcesConfig())
    assert found.refused == []
    assert (outside / "notes.md").as_posix() in {f.source for f in found.files}
