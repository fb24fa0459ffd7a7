"""One ``rag ingest`` over a hostile corpus: every bad entry is one line, the rest is indexed.

The corpus (tests/support/hostile_corpus.py) mixes broken PDFs and DOCX files,
odd encodings, binaries under text names, multi-megabyte files, odd names,
symbolic-link loops and links out of the root to a secret file. The real CLI
runs in a subprocess with the hashing embedder and the memory store, so no
model loads. How long the batch takes is tracked by
eval/benchmarks/hostile_corpus.py, not asserted here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rag_app.config import load_config
from rag_app.pipeline import build_pipeline
from tests.conftest import fast_config_dict
from tests.support.hostile_corpus import CONTROL_PHRASE, EXPECTED, SECRET_PHRASE, HostileCorpus, build

SUMMARY = re.compile(
    r"^files: (?P<seen>\d+) seen, (?P<new>\d+) new, (?P<changed>\d+) changed, (?P<unchanged>\d+) unchanged, "
    r"(?P<removed>\d+) removed, (?P<failed>\d+) failed$",
    re.MULTILINE,
)
TRACEBACK_MARKS = ("Traceback", 'File "/')


def rag_command() -> list[str]:
    """The installed ``rag`` console script of this interpreter (the module entry point if it is missing)."""
    script = Path(sys.executable).with_name("rag")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from rag_app.cli import run; sys.argv[0] = 'rag'; run()"]


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*rag_command(), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def write_config(base: Path, name: str) -> Path:
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(fast_config_dict(base / f"state-{name}")), encoding="utf-8")
    return path


@dataclass
class Run:
    corpus: HostileCorpus
    config: Path
    text: subprocess.CompletedProcess[str]
    json_run: subprocess.CompletedProcess[str]

    @property
    def failed_lines(self) -> list[str]:
        """The report's lines for failed entries (the ``WARNING ... skipped`` log lines repeat them as they happen)."""
        return [line for line in self.text.stderr.splitlines() if line.startswith("  failed: ")]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("hostile").resolve()
    corpus = build(base)
    text_config, json_config = write_config(base, "text"), write_config(base, "json")
    text = rag("ingest", "-c", str(text_config), str(corpus.root), cwd=base)
    as_json = rag("ingest", "-c", str(json_config), "--json", str(corpus.root), cwd=base)
    return Run(corpus, text_config, text, as_json)


def test_skipped_kinds_say_why(run: Run) -> None:
    # Only the unreadable-file kind may be left out, and only when running as root (as in CI here).
    assert set(run.corpus.skipped) <= {"unreadable.md"}
    assert all("root" in why for why in run.corpus.skipped.values())


def test_the_batch_completes_with_exit_status_one(run: Run) -> None:
    output = run.text.stdout + run.text.stderr
    assert run.text.returncode == 1, output
    summary = SUMMARY.search(run.text.stdout)
    assert summary is not None, output
    ok, bad = run.corpus.names("ok"), run.corpus.names("fail")
    assert int(summary["seen"]) == len(ok) + len(bad)  # entries without a loader are not counted
    assert (int(summary["new"]), int(summary["failed"])) == (len(ok), len(bad)), output


def test_no_traceback_text_anywhere(run: Run) -> None:
    for done in (run.text, run.json_run):
        for mark in TRACEBACK_MARKS:
            assert mark not in done.stdout and mark not in done.stderr, done.stderr[-3000:]
        # a library line that names no file (pypdf's repair warnings) says nothing a user can act on
        assert not [line for line in done.stderr.splitlines() if line.startswith("WARNING pypdf")], done.stderr


@pytest.mark.parametrize("name", sorted(n for n, what in EXPECTED.items() if what == "fail"))
def test_every_bad_entry_is_exactly_one_line_naming_it(run: Run, name: str) -> None:
    if name in run.corpus.skipped:
        pytest.skip(f"{name}: {run.corpus.skipped[name]}")
    prefix = f"  failed: {name}: "  # named as under the folder given, not by a full path
    lines = [line for line in run.failed_lines if line.startswith(prefix)]
    assert len(lines) == 1, run.failed_lines
    assert len(lines[0]) > len(prefix) + 10  # says why, not just the name
    assert str(run.corpus.root) not in lines[0]


def test_only_bad_entries_fail(run: Run) -> None:
    assert len(run.failed_lines) == len(run.corpus.names("fail")), run.failed_lines
    for name in run.corpus.names("ok") + run.corpus.names("ignored"):
        assert not any(
            line.startswith(f"  failed: {name}: ")
            for line in run.failed_lines
        ), name


def test_json_counts_agree_with_the_text_output(run: Run) -> None:
    assert run.json_run.returncode == 1, run.json_run.stderr[-3000:]
    report = json.loads(run.json_run.stdout)
    summary = SUMMARY.search(run.text.stdout)
    assert summary is not None
    for key in ("seen", "new", "changed", "unchanged", "removed", "failed"):
        assert report[f"files_{key}"] == int(summary[key]), key
    assert report["files_failed"] == len(report["errors"]) == len(run.failed_lines)
    assert sorted(f"  failed: {e['error']}" for e in report["errors"]) == sorted(run.failed_lines)
    assert sorted(e["source"] for e in report["errors"]) == run.corpus.names("fail")
    assert all("\n" not in e["error"] for e in report["errors"])


def test_every_good_entry_is_indexed_under_its_own_name(run: Run) -> None:
    pipeline = build_pipeline(load_config(run.config))
    try:
        sources = sorted(d["source"] for d in pipeline.documents())
    finally:
        pipeline.close()
    # Case.md and case.md are two documents; x.md/ is a folder, walked like any other.
    assert sources == sorted((run.corpus.root / name).as_posix() for name in run.corpus.names("ok"))


def test_the_control_phrase_is_found(run: Run) -> None:
    done = rag("search", "-c", str(run.config), "--json", "-k", "3", CONTROL_PHRASE, cwd=run.config.parent)
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert hits and hits[0]["metadata"]["relpath"] == "control.md"
    assert CONTROL_PHRASE in hits[0]["text"]


def test_the_secret_outside_the_root_is_never_indexed(run: Run) -> None:
    done = rag("search", "-c", str(run.config), "--json", "-k", "100", SECRET_PHRASE, cwd=run.config.parent)
    assert done.returncode == 0, done.stderr
    outside = run.corpus.outside.as_posix()
    for hit in json.loads(done.stdout):
        assert SECRET_PHRASE not in hit["text"] and not hit["source"].startswith(outside), hit
    words = [w.encode() for w in SECRET_PHRASE.split()]
    stored = [p for state in run.config.parent.glob("state-*") for p in state.rglob("*") if p.is_file()]
    assert any(CONTROL_PHRASE.encode() in p.read_bytes() for p in stored)  # the store keeps text: grep is meaningful
    for path in stored:
        data = path.read_bytes()
        assert not any(w in data for w in words), path
        assert outside.encode() not in data, path
