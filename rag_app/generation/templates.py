"""Prompt templates: small text files with ``[system]``, ``[user]`` and ``[source]`` sections.

Each section is a ``str.format`` template (no extra dependency). Lines before
the first section that start with ``#`` are comments. Shipped templates live
in ``rag_app/generation/templates/``; a config selects one by name
(``grounded``, ``concise``) or by a path to a ``.txt`` file of the same shape.

The same folder holds task prompts that are not answer templates (rewriting
a follow-up, query transforms, relevance judging, synthetic questions); they
are listed in ``TASK_TEMPLATES`` and loaded with :func:`load_task_template`,
which checks their own fields instead of the answer fields.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from rag_app.errors import ConfigError
from rag_app.types import Message

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

    def messages(self, fields: Mapping[str, str]) -> list[Message]:
        """The ``system`` (when the template has one) and ``user`` messages, filled with ``fields``."""
        head = [Message("system", self.system.format(**fields))] if self.system else []
        return [*head, Message("user", self.user.format(**fields))]


# Shipped prompts that are not answer templates (so not offered as `answer.template`).
TASK_TEMPLATES = frozenset(
    {"condense", "synthetic_question", "multi_query", "hyde", "relevance_yes_no", "relevance_score"}
)


def template_names() -> list[str]:
    """Names of the answer templates shipped with rag_app, sorted (task prompts are not listed)."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.txt") if p.stem not in TASK_TEMPLATES)


def load_task_template(
    name_or_path: str, fields: Collection[str], *, required: Collection[str] = (), base_dir: Path | None = None
) -> PromptTemplate:
    """Load a task prompt (``[system]``/``[user]`` sections) whose placeholders are ``fields``.

    Args:
        name_or_path: A name in ``TASK_TEMPLATES`` or a path to a template file.
        fields: The placeholders the caller fills in; any other one is an error.
        required: Placeholders the template must use (in either section).
        base_dir: Directory that relative paths are resolved against.
    """
    path = _template_path(name_or_path, base_dir, sorted(TASK_TEMPLATES))
    allowed = set(fields)
    return _parse(
        _read(path), name=path.stem, fields={"system": allowed, "user": allowed, "source": set()}, required=required
    )


def load_template(name_or_path: str, *, base_dir: Path | None = None) -> PromptTemplate:
    """Load a shipped template by name, or any template file by path.

    Args:
        name_or_path: ``grounded``, ``concise``, ... or a path (absolute, ``~``,
            or relative to ``base_dir``) to a template file.
        base_dir: Directory that relative paths are resolved against.

    Raises:
        ConfigError: unknown name (listing the valid ones), unreadable or malformed file.
    """
    path = _template_path(name_or_path, base_dir, template_names())
    return parse_template(_read(path), name=str(path) if _looks_like_path(name_or_path) else path.stem)


def _looks_like_path(name_or_path: str) -> bool:
    return any(sep in name_or_path for sep in ("/", "\\")) or name_or_path.endswith(".txt")


def _template_path(name_or_path: str, base_dir: Path | None, valid: list[str]) -> Path:
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        return path if path.is_absolute() else (base_dir or Path.cwd()) / path
    path = TEMPLATE_DIR / f"{name_or_path}.txt"
    if not path.is_file():
        raise ConfigError(
            f"unknown prompt template {name_or_path!r}; valid templates: {', '.join(valid)} "
            "(or a path to a .txt template file)"
        )
    return path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read prompt template {path} ({exc.strerror})") from exc


def parse_template(text: str, *, name: str = "custom") -> PromptTemplate:
    """Parse template text (see the module docstring); validates sections and fields."""
    return _parse(text, name=name, fields=_FIELDS, required=("question",))


def _parse(
    text: str, *, name: str, fields: dict[str, set[str]], required: Collection[str]
) -> PromptTemplate:
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
        unknown = used - fields[key]
        if unknown:
            raise ConfigError(
                f"prompt template {name}: unknown field(s) {sorted(unknown)} in [{key}]; "
                f"valid: {sorted(fields[key])} (write literal braces as {{{{ }}}})"
            )
    used = _fields(sections.get("system", ""), name, "system") | _fields(sections["user"], name, "user")
    for field in required:
        if field not in used:
            raise ConfigError(f"prompt template {name}: needs a {{{field}}} field")
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
