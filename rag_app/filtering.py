"""Structured metadata filters: validation and in-Python evaluation.

Semantics shared by every store and retriever (the contract tests pin them):

* ``doc_id`` and ``source`` are the chunk's own fields (values must be strings);
  any other field name is a metadata key and must match ``[A-Za-z_][A-Za-z0-9_]*``.
* A chunk whose metadata lacks the key (or holds ``null``) matches no
  condition on it, ``ne`` included (SQL-style null semantics).
* ``eq``/``ne``/``in`` compare with JSON equality (``1 == 1.0``); ``gt``/``gte``/
  ``lt``/``lte`` take a number or a string and never match a value of the
  other kind. ``in`` takes a non-string collection; an empty one matches nothing.

Backends translate validated filters into their own query language (see
``rag_app.backends.stores``); values are never interpolated unescaped.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from rag_app.errors import InputError
from rag_app.types import FILTER_OPS, Chunk, Filter

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TYPED_FIELDS = frozenset({"doc_id", "source"})
_INT64 = 2**63
_ORDER_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}

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


def is_finite_number(value: object) -> bool:
    """An int or float (not bool) that is neither NaN nor infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
