"""Structured metadata filters: validation and in-Python evaluation.

Semantics shared by every store and retriever (the contract tests pin them):

* ``doc_id`` and ``source`` are the chunk's own fields (values must be strings);
  any other field name is a metadata key and must match ``[A-Za-z_][A-Za-z0-9_]*``.
* A chunk whose metadata lacks the key (or holds ``null``) matches no
  condition on it, ``ne`` included (SQL-style null semantics).
* ``eq``/``ne``/``in`` compare with JSON equality (``1 == 1.0``); ``gt``/``gte``/
  ``lt``/``lte`` take a number or a string and never match a value of the
  other kind. ``in`` takes a non-string collection; an empty one matches nothing.
* Values are typed by the field's stored type where it is known: the metadata
  rag_app writes itself (:data:`FIELD_TYPES`: ``page`` is a number ...) and,
  through ``field_types``, what a collection recorded at ingest. A numeric
  string for a numeric field becomes a number (``page=2`` from the command
  line matches page 2), a ``true``/``false`` string for a boolean field a
  boolean; any other mismatch is a one-line InputError naming the expected type.
  Fields of unknown type are compared as given.

Backends translate validated filters into their own query language (see
``rag_app.backends.stores``); values are never interpolated unescaped.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeGuard, get_args

from rag_app.errors import InputError
from rag_app.types import FILTER_OPS, Chunk, Filter

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TYPED_FIELDS = frozenset({"doc_id", "source"})
FieldType = Literal["integer", "number", "string", "boolean", "mixed"]
#: Stored types of the chunk fields and of the metadata rag_app's loaders, chunkers and ingestion write.
FIELD_TYPES: dict[str, FieldType] = {
    "doc_id": "string", "source": "string", "format": "string", "title": "string", "section": "string",
    "relpath": "string", "content_hash": "string",
    "page": "integer", "chunk_index": "integer", "start_char": "integer", "end_char": "integer", "mtime": "number",
}
_FIELD_TYPE_NAMES = frozenset(get_args(FieldType))
_INTEGER = re.compile(r"[+-]?\d{1,19}")
_EXPECTED = {"integer": "a number", "number": "a number", "string": "text", "boolean": "true or false"}
_INT64 = 2**63
_ORDER_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}

Scalar = str | int | float | bool


def validate(filters: Sequence[Filter], field_types: Mapping[str, FieldType] | None = None) -> list[Filter]:
    """Check every filter; return them with ``in`` values normalised to lists and typed by their field.

    Args:
        field_types: stored types of further metadata keys (what a collection
            recorded at ingest); :data:`FIELD_TYPES` always applies.

    Raises:
        InputError: unknown op, invalid field name, or a value of the wrong type.
    """
    types: Mapping[str, FieldType] = {**(field_types or {}), **FIELD_TYPES}
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
            value = [_typed(flt.field, flt.op, item, types.get(flt.field)) for item in value]
            for item in value:
                _check_scalar(flt.field, flt.op, item)
        else:
            value = _typed(flt.field, flt.op, value, types.get(flt.field))
            _check_scalar(flt.field, flt.op, value)
        checked.append(Filter(flt.field, flt.op, value))
    return checked


def _typed(field: str, op: str, value: object, kind: FieldType | None) -> object:
    """``value`` converted to the field's stored type, or an InputError saying which type is expected."""
    if kind is None or kind == "mixed" or value is None:
        return value
    if kind in ("integer", "number"):
        if isinstance(value, str):
            text = value.strip()
            if _INTEGER.fullmatch(text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return int(number) if kind == "integer" and number.is_integer() else number
        elif is_finite_number(value):
            return value
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif isinstance(value, str):
        return value
    if field in TYPED_FIELDS:  # the long-standing message for the chunk's own fields
        raise InputError(f"filter on {field} needs a string value, got {type(value).__name__}")
    raise InputError(f"filter {field} {op}: {field} is stored as {_EXPECTED[kind]}, got {value!r}")


def type_of(value: object) -> FieldType | None:
    """The filter type of a stored metadata value (None: not filterable, e.g. a list or null)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def field_types(recorded: Mapping[str, object]) -> dict[str, FieldType]:
    """The valid entries of recorded field types (as a manifest stores them)."""
    return {k: v for k, v in recorded.items() if isinstance(v, str) and _is_field_type(v)}


def _is_field_type(value: str) -> TypeGuard[FieldType]:
    return value in _FIELD_TYPE_NAMES


def observe_types(known: Mapping[str, FieldType], metadata: Iterable[Mapping[str, object]]) -> dict[str, FieldType]:
    """``known`` widened by the metadata values seen (integer + number = number; else mixed)."""
    out: dict[str, FieldType] = dict(known)
    for meta in metadata:
        for key, value in meta.items():
            kind = type_of(value)
            if kind is None or key in FIELD_TYPES:
                continue
            old = out.get(key)
            if old is None or old == kind:
                out[key] = kind
            elif {old, kind} == {"integer", "number"}:
                out[key] = "number"
            else:
                out[key] = "mixed"
    return out


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
