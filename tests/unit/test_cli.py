"""The CLI: summaries, --json output, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli import app
from tests.conftest import fast_config_dict

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipelines" / "unit.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(fast_config_dict(tmp_path / "state")), encoding="utf-8")
    return path


def test_ingest_search_stats_json(config_file: Path, docs_dir: Path) -> None:
    result = runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files_new"] == 3 and report["chunks_added"] >= 3

    result = runner.invoke(app, ["search", "-c", str(config_file), "quadratic attention cost", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["source"].endswith("attention.md") and hits[0]["rank"] == 1
    assert hits[0]["location"].startswith("attention.md")

    result = runner.invoke(app, ["stats", "-c", str(config_file), "--json"])
    stats = json.loads(result.stdout)
    assert stats["documents"] == 3 and stats["chunks"] == report["chunks_added"]
    assert stats["fingerprint"]["dimension"] == 128


def test_human_summary_and_failed_file_exit_code(config_file: Path, docs_dir: Path) -> None:
    (docs_dir / "bad.docx").write_bytes(b"not a zip")
    result = runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir)])
    assert result.exit_code == 1
    assert "3 new" in result.output and "1 failed" in result.output and "bad.docx" in result.output


def test_search_filter_by_metadata(config_file: Path, docs_dir: Path) -> None:
    runner.invoke(app, ["ingest", "-c", str(config_file), str(docs_dir)])
    result = runner.invoke(app, ["search", "-c", str(config_file), "ranking", "-w", "format=txt", "--json"])
    assert result.exit_code == 0, result.output
    assert {Path(h["source"]).name for h in json.loads(result.stdout)} == {"bm25.txt"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "-c", "{cfg}", "   "], "query is empty"),
        (["ingest", "-c", "{cfg}", "/definitely/not/here"], "no such file or directory"),
        (["search", "-c", "/no/such.yaml", "x"], "config file not found"),
        (["search", "-c", "{cfg}", "x", "-w", "nonsense"], "cannot parse filter"),
    ],
)
def test_user_errors_exit_2_with_one_line(config_file: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [a.replace("{cfg}", str(config_file)) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_typo_in_yaml_is_one_line(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["chunker"]["params"]["chunk_sise"] = 10
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["stats", "-c", str(path)])
    assert result.exit_code == 2
    assert "unknown key 'chunk_sise'" in result.output and "valid keys" in result.output


def test_doctor_reports_each_check(config_file: Path) -> None:
    result = runner.invoke(app, ["doctor", "-c", str(config_file), "--json"])
    assert result.exit_code == 0, result.output
    checks = {r["check"]: r["ok"] for r in json.loads(result.stdout)}
    assert checks == {
        "config parses": "yes",
        "dependencies installed": "yes",
        "component params valid": "yes",
        "embedding model loads": "yes",
        "store reachable": "yes",
        "generator usable": "yes",
        "sparse index": "yes",
    }


def test_doctor_fails_on_bad_params(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path)
    data["store"] = {"type": "memory", "params": {"bogus": 1}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["doctor", "-c", str(path)])
    assert result.exit_code == 1
    assert "[FAIL] component params valid" in result.output
