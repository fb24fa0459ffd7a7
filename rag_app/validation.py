"""Pydantic validation errors as one line a user can act on (config, suites, component params)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError


def first_problem(exc: ValidationError, root: type[BaseModel]) -> str:
    """The validation problems of ``exc`` on one line; unknown keys come with the valid ones."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or root.__name__
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(root, err["loc"][:-1])
            problems.append(f"unknown key {loc!r}" + (f" (valid keys: {', '.join(valid)})" if valid else ""))
        elif err["type"] == "missing":
            problems.append(f"missing required key {loc!r}")
        else:
            msg = re.sub(r"^Value error, ", "", err["msg"])
            problems.append(f"{loc}: {msg}")
    return "; ".join(problems)


def _valid_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a validation error location) in the ``root`` schema."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return []
        model = _model_in(field.annotation)
    return [n for n, f in model.model_fields.items() if not f.exclude] if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
