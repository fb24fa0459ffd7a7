"""Per-slot chunk fields of the fast index and filters over them as numpy masks.

The fast index (``_fast_index``) keeps, beside each vector slot, the chunk's
id, ``doc_id``, ``source`` and metadata. A filter becomes a boolean mask over
the slots, with the semantics of :func:`rag_app.filtering.matches` (the
contract suite pins them): equality through a per-field inverted index
(value -> slots, built on first use and kept until the columns change), ranges
through a per-field array of finite numbers and one of strings. A mask costs a
few numpy operations instead of a Python call per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag_app.filtering import TYPED_FIELDS, is_finite_number
from rag_app.types import Filter

_RANGES = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}


class Columns:
    """Chunk fields by slot (``None`` id: a deleted slot) and cached per-field lookups."""

    def __init__(self) -> None:
        self.ids: list[str | None] = []
        self.doc_ids: list[str] = []
        self.sources: list[str] = []
        self.metadata: list[dict[str, Any]] = []
        self._cache: dict[tuple[str, str], Any] = {}

    def append(self, chunk_id: str, doc_id: str, source: str, metadata: dict[str, Any]) -> None:
        self.ids.append(chunk_id)
        self.doc_ids.append(doc_id)
        self.sources.append(source)
        self.metadata.append(metadata)
        self._cache.clear()

    def kill(self, slot: int) -> None:
        self.ids[slot] = None
        self.metadata[slot] = {}
        self._cache.clear()

    def __len__(self) -> int:
        return len(self.ids)

    # ---- masks ------------------------------------------------------------
    def mask(self, filters: Sequence[Filter]) -> np.ndarray:
        """Slots matching every (validated) filter (deleted slots included; the caller masks them)."""
        out = np.ones(len(self.ids), dtype=bool)
        for flt in filters:
            out &= self._mask_one(flt)
        return out

    def _mask_one(self, flt: Filter) -> np.ndarray:
        n = len(self.ids)
        if flt.op in ("eq", "in"):
            values = [flt.value] if flt.op == "eq" else list(flt.value)
            return self._slots_mask([self._equal_slots(flt.field, v) for v in values], n)
        if flt.op == "ne":
            present = self._present(flt.field)
            unequal: np.ndarray = present & ~self._slots_mask([self._equal_slots(flt.field, flt.value)], n)
            return unequal
        compare = _RANGES[flt.op]
        if isinstance(flt.value, str):
            strings = self._strings(flt.field)
            found = np.zeros(n, dtype=bool)
            slots, texts = strings
            if len(slots):
                found[slots] = compare(texts, flt.value)
            return found
        numbers = self._numbers(flt.field)
        with np.errstate(invalid="ignore"):
            result: np.ndarray = compare(numbers, float(flt.value))
        return result

    @staticmethod
    def _slots_mask(parts: list[np.ndarray], n: int) -> np.ndarray:
        found = np.zeros(n, dtype=bool)
        for slots in parts:
            found[slots] = True
        return found

    def _values(self, field: str) -> list[Any]:
        if field == "doc_id":
            return self.doc_ids  # type: ignore[return-value]
        if field == "source":
            return self.sources  # type: ignore[return-value]
        return [m.get(field) for m in self.metadata]

    def _inverted(self, field: str) -> dict[Any, np.ndarray]:
        key = ("eq", field)
        if key not in self._cache:
            table: dict[Any, list[int]] = {}
            for slot, value in enumerate(self._values(field)):
                if value is None or not _hashable(value):
                    continue
                # Strings and non-strings never compare equal (1 == 1.0 == True otherwise, as in JSON).
                table.setdefault((isinstance(value, str), value), []).append(slot)
            self._cache[key] = {k: np.asarray(v, dtype=np.int64) for k, v in table.items()}
        inverted: dict[Any, np.ndarray] = self._cache[key]
        return inverted

    def _equal_slots(self, field: str, value: Any) -> np.ndarray:
        if value is None or not _hashable(value):
            return np.zeros(0, dtype=np.int64)
        return self._inverted(field).get((isinstance(value, str), value), np.zeros(0, dtype=np.int64))

    def _present(self, field: str) -> np.ndarray:
        key = ("present", field)
        if key not in self._cache:
            self._cache[key] = np.fromiter((v is not None for v in self._values(field)), dtype=bool,
                                           count=len(self.ids))
        present: np.ndarray = self._cache[key]
        return present

    def _numbers(self, field: str) -> np.ndarray:
        key = ("num", field)
        if key not in self._cache:
            values = (float(v) if is_finite_number(v) else np.nan for v in self._values(field))
            self._cache[key] = np.fromiter(values, dtype=np.float64, count=len(self.ids))
        numbers: np.ndarray = self._cache[key]
        return numbers

    def _strings(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        key = ("str", field)
        if key not in self._cache:
            pairs = [(slot, v) for slot, v in enumerate(self._values(field)) if isinstance(v, str)]
            slots = np.asarray([s for s, _ in pairs], dtype=np.int64)
            texts = np.asarray([v for _, v in pairs], dtype=object)
            self._cache[key] = (slots, texts)
        strings: tuple[np.ndarray, np.ndarray] = self._cache[key]
        return strings


def _hashable(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


__all__ = ["TYPED_FIELDS", "Columns"]
