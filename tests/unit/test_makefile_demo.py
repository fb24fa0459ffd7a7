"""`make demo` builds the demo collection from data/corpus only and ends in `rag ui`.

Before: it also ingested README.md and docs/, whose chunks came back as sources
for questions about the corpus. Read from `make -n demo` (what make would run).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_commands() -> list[list[str]]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    return [shlex.split(line) for line in dry.stdout.splitlines() if line.strip().startswith(".venv/bin/rag ")]


def test_demo_ingests_only_the_demo_corpus(demo_commands: list[list[str]]) -> None:
    (ingest,) = [c for c in demo_commands if c[1] == "ingest"]
    args = ingest[2:]
    valued = ("--config", "-c")
    paths = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in valued)]
    assert paths == ["data/corpus"]


def test_demo_ends_serving_the_ui(demo_commands: list[list[str]]) -> None:
    assert demo_commands[-1][1] == "ui"
