"""A normal command prints its result and nothing else: no INFO lines unless `rag --verbose`.

The commands run as real subprocesses, so logging is configured exactly as for a user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import fast_config_dict

NOISE = ("INFO", "Token indices sequence length", "LOAD REPORT", "Loading weights", "it/s]", "Batches")


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("rag")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from rag_app.cli import run; run()"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRANSFORMERS_", "HF_HUB_DISABLE"))}
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def project(tmp_path: Path, docs_dir: Path) -> Path:
    (docs_dir / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me: BM25 ranks by term frequency.\n".encode("latin-1"))
    config = tmp_path / "pipelines" / "unit.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(fast_config_dict(tmp_path / "state")), encoding="utf-8")
    return config


def test_ingest_search_stats_print_no_info_lines(project: Path, docs_dir: Path) -> None:
    ingest = rag("ingest", "-c", str(project), str(docs_dir), cwd=project.parent)
    assert ingest.returncode == 0, ingest.stderr
    assert "4 new" in ingest.stdout
    search = rag("search", "-c", str(project), "term frequency", cwd=project.parent)
    stats = rag("stats", "-c", str(project), cwd=project.parent)
    for result in (ingest, search, stats):
        assert result.returncode == 0, result.stderr
        noisy = [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)]
        assert noisy == [], f"{result.args[1:3]} printed {noisy}"
    assert search.stderr.strip() == "" and stats.stderr.strip() == ""


def test_verbose_shows_info_lines(project: Path, docs_dir: Path) -> None:
    result = rag("--verbose", "ingest", "-c", str(project), str(docs_dir), cwd=project.parent)
    assert result.returncode == 0, result.stderr
    assert "INFO rag_app" in result.stderr and "latin1.txt: not UTF-8" in result.stderr


def test_importing_rag_app_sets_quiet_defaults_unless_the_user_did() -> None:
    code = (
        "import os, rag_app; "
        "print(os.environ['HF_HUB_DISABLE_PROGRESS_BARS'], os.environ['TRANSFORMERS_VERBOSITY'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRANSFORMERS_", "HF_HUB_DISABLE"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["1", "error"]
    env["TRANSFORMERS_VERBOSITY"] = "info"  # a user's own choice is kept
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["1", "info"]
