"""Milvus expressions from validated structured filters (see ``rag_app.filtering``).

Values never reach a Milvus expression unescaped: :func:`milvus_literal`
quotes strings with the escapes that both Milvus Lite and the Milvus server
grammar accept (``\\\\ \\" \\n \\r \\t``) and renders numbers from validated
Python numbers only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag_app.errors import InputError
from rag_app.filtering import FIELD_NAME, TYPED_FIELDS, Scalar, is_finite_number
from rag_app.types import Filter

__all__ = ["milvus_expr", "milvus_field", "milvus_literal"]

_MILVUS_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')

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
        elif flt.op == "ne" and flt.field not in TYPED_FIELDS:
            # A Milvus 2.3 server matches a missing JSON key with `!=`; Lite does not.
            parts.append(f"(exists {lhs}) and ({lhs} != {milvus_literal(flt.value)})")
        else:
            parts.append(f"{lhs} {_MILVUS_OPS[flt.op]} {milvus_literal(flt.value)}")
    return " and ".join(f"({p})" for p in parts)
