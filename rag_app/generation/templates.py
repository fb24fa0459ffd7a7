"""Prompt templates: small text files with ``[system]``, ``[user]`` and ``[source]`` sections.

Each section is a ``str.format`` template (no extra dependency). Lines before
the first section that start with ``#`` are comments. Shipped templates live
in ``rag_app/generation/templates/``; a config selects one by name
(``grounded``, ``concise``) or by a path to a ``.txt`` file of the same shape.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from rag_app.errors import ConfigError

TEMPLATE_DIR = Path(__file__).with_name("templates")
DEFAULT_TEMPLATE = "grounded"
DEFAULT_SOURCE = "[{number}] {location}\n{text}"

_SECTION = re.compile(r"^\[(system|user|source)\][ \t]*$", re.MULTILINE)
_FIELDS = {
    "system": {"sources", "question", "history"},
    "user": {"sources", "question", "history"},
    "source": {"number", "location", "text", "file", "page", "section", "score"},
}


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt shape. ``source`` formats each numbered source inside ``{sources}``."""

    name: str
    system: str
    user: str
    source: str = DEFAULT_SOURCE


def template_names() -> list[str]:
    """Names of the templates shipped with rag_app, sorted."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.txt"))


def load_template(name_or_path: str, *, base_dir: Path | None = None) -> PromptTemplate:
    """Load a shipped template by name, or any template file by path.

    Args:
        name_or_path: ``grounded``, ``concise``, ... or a path (absolute, ``~``,
            or relative to ``base_dir``) to a template file.
        base_dir: Directory that relative paths are resolved against.

    Raises:
        ConfigError: unknown name (listing the valid ones), unreadable or malformed file.
    """
    looks_like_path = any(sep in name_or_path for sep in ("/", "\\")) or name_or_path.endswith(".txt")
    if looks_like_path:
        path = Path(name_or_path).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
    else:
        path = TEMPLATE_DIR / f"{name_or_path}.txt"
        if not path.is_file():
            raise ConfigError(
                f"unknown prompt template {name_or_path!r}; valid templates: {', '.join(template_names())} "
                "(or a path to a .txt template file)"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read prompt template {path} ({exc.strerror})") from exc
    return parse_template(text, name=path.stem if not looks_like_path else str(path))


def parse_template(text: str, *, name: str = "custom") -> PromptTemplate:
    """Parse template text (see the module docstring); validates sections and fields."""
    parts = _SECTION.split(text)
    preamble, pairs = parts[0], parts[1:]
    if any(line.strip() and not line.lstrip().startswith("#") for line in preamble.splitlines()):
        raise ConfigError(f"prompt template {name}: text before the first [system]/[user] section")
    sections: dict[str, str] = {}
    for key, body in zip(pairs[::2], pairs[1::2], strict=True):
        if key in sections:
            raise ConfigError(f"prompt template {name}: section [{key}] appears twice")
        sections[key] = body.strip("\n")
    if "user" not in sections:
        raise ConfigError(f"prompt template {name}: missing the [user] section")
    for key, body in sections.items():
        used = _fields(body, name, key)
        unknown = used - _FIELDS[key]
        if unknown:
            raise ConfigError(
                f"prompt template {name}: unknown field(s) {sorted(unknown)} in [{key}]; "
                f"valid: {sorted(_FIELDS[key])} (write literal braces as {{{{ }}}})"
            )
    if "question" not in _fields(sections.get("system", ""), name, "system") | _fields(
        sections["user"], name, "user"
    ):
        raise ConfigError(f"prompt template {name}: needs a {{question}} field")
    return PromptTemplate(
        name=name,
        system=sections.get("system", ""),
        user=sections["user"],
        source=sections.get("source", DEFAULT_SOURCE),
    )


def _fields(body: str, name: str, key: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(body) if field is not None}
    except ValueError as exc:
        raise ConfigError(f"prompt template {name}: bad braces in [{key}] ({exc})") from exc
