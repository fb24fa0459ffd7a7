"""The app's start-up settings: script arguments first, then environment, then defaults.

``rag ui`` runs ``streamlit run app.py -- --config X --uploads-dir Y ...``;
the same values can come from ``RAG_CONFIG``, ``RAG_UPLOADS_DIR``,
``RAG_REPORTS_DIR`` and ``RAG_UI_MAX_UPLOAD_MB``. Relative paths are resolved
against the working directory the app was started in.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONFIG = "pipelines/local.yaml"
DEFAULT_UPLOADS = "data/uploads"
DEFAULT_REPORTS = "eval/reports"
DEFAULT_MAX_UPLOAD_MB = 50.0


@dataclass(frozen=True)
class UiSettings:
    """Where the app finds its configs, stores uploads and reads eval reports."""

    config: Path
    uploads_dir: Path
    reports_dir: Path
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    warmup: bool = True

    @property
    def configs_dir(self) -> Path:
        """The folder whose ``*.yaml`` files the sidebar offers (the start config's folder)."""
        return self.config.parent

    def config_choices(self) -> list[Path]:
        """Every pipeline YAML next to the start config (always including it), sorted by name."""
        found = {p.resolve() for p in self.configs_dir.glob("*.y*ml") if p.is_file()}
        found.add(self.config)
        return sorted(found, key=lambda p: p.name)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag_app.ui", add_help=False, allow_abbrev=False)
    parser.add_argument("--config")
    parser.add_argument("--uploads-dir")
    parser.add_argument("--reports-dir")
    parser.add_argument("--max-upload-mb", type=float)
    parser.add_argument("--no-warmup", action="store_true")
    return parser


def load_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> UiSettings:
    """Read settings from script arguments (long options only) and the environment.

    Unknown arguments are ignored, so the app also runs under test runners
    whose own ``sys.argv`` is still in place.
    """
    env = os.environ if env is None else env
    base = cwd or Path.cwd()
    args, _ = _parser().parse_known_args(list(argv or []))

    def path(arg: str | None, var: str, default: str) -> Path:
        value = Path(os.path.expanduser(arg or env.get(var) or default))
        return (value if value.is_absolute() else base / value).resolve()

    max_mb = args.max_upload_mb or float(env.get("RAG_UI_MAX_UPLOAD_MB") or DEFAULT_MAX_UPLOAD_MB)
    warmup = not args.no_warmup and env.get("RAG_UI_WARMUP", "1").lower() not in ("0", "false", "no")
    return UiSettings(
        config=path(args.config, "RAG_CONFIG", DEFAULT_CONFIG),
        uploads_dir=path(args.uploads_dir, "RAG_UPLOADS_DIR", DEFAULT_UPLOADS),
        reports_dir=path(args.reports_dir, "RAG_REPORTS_DIR", DEFAULT_REPORTS),
        max_upload_mb=max_mb,
        warmup=warmup,
    )
