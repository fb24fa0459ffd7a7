"""``rag ui``: validates the config, then runs ``streamlit run`` on loopback with the settings passed through."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rag_app.cli import ui as ui_cli
from rag_app.ui import APP

runner = CliRunner()


def single_command_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(ui_cli.ui)
    return app


def test_runs_streamlit_with_the_config_passed_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Path(__file__).resolve().parents[2] / "pipelines" / "test.yaml"
    seen: list[list[str]] = []
    monkeypatch.setattr(ui_cli.app_process, "run_server", lambda cmd, **_: seen.append(list(cmd)) or 0)
    result = runner.invoke(
        single_command_app(),
        ["--config", str(config), "--port", "8765", "--no-browser", "--uploads-dir", str(tmp_path / "up")],
    )
    assert result.exit_code == 0, result.output
    (cmd,) = seen
    assert cmd[1:5] == ["-m", "streamlit", "run", str(APP)]
    pairs = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert pairs["--server.address"] == "127.0.0.1" and pairs["--server.port"] == "8765"
    assert pairs["--server.headless"] == "true" and pairs["--browser.gatherUsageStats"] == "false"
    assert pairs["--server.showEmailPrompt"] == "false" and pairs["--client.toolbarMode"] == "minimal"
    script_args = cmd[cmd.index("--") + 1 :]
    assert script_args[:2] == ["--config", str(config)]
    assert script_args[script_args.index("--uploads-dir") + 1] == str(tmp_path / "up")


def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_cli.app_process, "run_server", lambda cmd, **_: pytest.fail("streamlit must not start"))
    result = runner.invoke(single_command_app(), ["--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: config file not found")
