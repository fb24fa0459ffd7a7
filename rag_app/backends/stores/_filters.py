"""Structured filters: validation, in-Python evaluation, and Milvus expressions.

Semantics shared by every store (the contract tests pin them):

* ``doc_id`` and ``source`` are the chunk's own fields (values must be strings);
  any other field name is a metadata key and must match ``[A-Za-z_][A-Za-z0-9_]*``.
* A chunk whose metadata lacks the key (or holds ``null``) matches no
  condition on it, ``ne`` included (SQL-style null semantics).
* ``eq``/``ne``/``in`` compare with JSON equality (``1 == 1.0``); ``gt``/``gte``/
  ``lt``/``lte`` take a number or a string and never match a value of the
  other kind. ``in`` takes a non-string collection; an empty one matches nothing.

Values never reach a Milvus expression unescaped: :func:`milvus_literal`
quotes strings with the escapes that both Milvus Lite and the Milvus server
grammar accept (``\\\\ \\" \\n \\r \\t``) and renders numbers from validated
Python numbers only.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from rag_app.backends.stores._common import is_finite_number
from rag_app.errors import InputError
from rag_app.types import FILTER_OPS, Chunk, Filter

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TYPED_FIELDS = frozenset({"doc_id", "source"})
_INT64 = 2**63
_ORDER_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_MILVUS_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')

Scalar = str | int | float | bool


def validate(filters: Sequence[Filter]) -> list[Filter]:
    """Check every filter; return them with ``in`` values normalised to lists.

    Raises:
        InputError: unknown op, invalid field name, or a value of the wrong type.
    """
    checked = []
    for flt in filters:
        if not isinstance(flt, Filter):
            raise InputError(f"filters must be rag_app.types.Filter objects, got {type(flt).__name__}")
        if flt.op not in FILTER_OPS:
            raise InputError(f"unknown filter op {flt.op!r}; valid ops: {', '.join(sorted(FILTER_OPS))}")
        if not isinstance(flt.field, str) or not FIELD_NAME.fullmatch(flt.field):
            raise InputError(
                f"invalid filter field {flt.field!r}; use doc_id, source or a metadata key "
                "matching [A-Za-z_][A-Za-z0-9_]* (at most 64 characters)"
            )
        value: Any = flt.value
        if flt.op == "in":
            if isinstance(value, str | bytes | dict) or not isinstance(value, list | tuple | set | frozenset):
                raise InputError(
                    f"filter {flt.field} in ...: value must be a list, got {type(value).__name__}"
                )
            value = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
            for item in value:
                _check_scalar(flt.field, flt.op, item)
        else:
            _check_scalar(flt.field, flt.op, value)
        checked.append(Filter(flt.field, flt.op, value))
    return checked


def _check_scalar(field: str, op: str, value: object) -> None:
    if isinstance(value, str):
        return
    if field in TYPED_FIELDS:
        raise InputError(f"filter on {field} needs a string value, got {type(value).__name__}")
    if isinstance(value, bool):
        if op in _ORDER_OPS:
            raise InputError(f"filter {field} {op}: booleans support only eq, ne and in")
        return
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise InputError(f"filter {field} {op}: integer {value} is outside the 64-bit range")
    if not is_finite_number(value):
        raise InputError(
            f"filter {field} {op}: value must be a string, finite number or boolean, "
            f"got {type(value).__name__} {value!r}"
        )


# --------------------------------------------------------------------------- in Python


def matches(chunk: Chunk, filters: Sequence[Filter]) -> bool:
    """Whether ``chunk`` satisfies every (validated) filter."""
    return all(_match_one(chunk, flt) for flt in filters)


def _match_one(chunk: Chunk, flt: Filter) -> bool:
    if flt.field in TYPED_FIELDS:
        stored: object = getattr(chunk, flt.field)
    else:
        stored = chunk.metadata.get(flt.field)
    if stored is None:
        return False
    if flt.op == "eq":
        return _equal(stored, flt.value)
    if flt.op == "ne":
        return not _equal(stored, flt.value)
    if flt.op == "in":
        return any(_equal(stored, item) for item in flt.value)
    compare: Callable[[Any, Any], bool] = _ORDER_OPS[flt.op]
    if isinstance(stored, str) and isinstance(flt.value, str):
        return compare(stored, flt.value)
    if is_finite_number(stored) and is_finite_number(flt.value):
        return compare(stored, flt.value)
    return False


def _equal(stored: object, value: object) -> bool:
    if isinstance(stored, str) != isinstance(value, str):
        return False
    return stored == value


# --------------------------------------------------------------------------- Milvus


def milvus_literal(value: Scalar) -> str:
    """``value`` as a Milvus expression literal (strings quoted and escaped)."""
    if isinstance(value, str):
        return '"' + _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], value) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if is_finite_number(value):
        return repr(float(value))
    raise InputError(f"cannot use {type(value).__name__} {value!r} in a filter")


def milvus_field(field: str) -> str:
    """The expression for ``field``: a scalar column, or a JSON path into ``metadata``."""
    if not FIELD_NAME.fullmatch(field):
        raise InputError(f"invalid filter field {field!r}")
    return field if field in TYPED_FIELDS else f'metadata["{field}"]'


def milvus_expr(filters: Sequence[Filter]) -> str | None:
    """One Milvus boolean expression for (validated) ``filters``.

    Returns:
        ``""`` when there are no filters, ``None`` when they cannot match
        anything (an empty ``in`` list), else the AND of the conditions.
    """
    parts = []
    for flt in filters:
        lhs = milvus_field(flt.field)
        if flt.op == "in":
            if not flt.value:
                return None
            if flt.field in TYPED_FIELDS:
                parts.append(f"{lhs} in [{', '.join(milvus_literal(v) for v in flt.value)}]")
            else:  # Milvus Lite rejects `json_path in [...]`; spell it as ORs.
                parts.append(" or ".join(f"{lhs} == {milvus_literal(v)}" for v in flt.value))
        else:
            parts.append(f"{lhs} {_MILVUS_OPS[flt.op]} {milvus_literal(flt.value)}")
    return " and ".join(f"({p})" for p in parts)
