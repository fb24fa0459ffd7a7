"""Multi-request Pinecone operations: paginated listing, export, and waiting for consistency."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from rag_app.backends.stores.pinecone import records
from rag_app.types import Chunk

LIST_PAGE = 100  # Pinecone's largest list page; also used as the fetch batch (ids travel in the URL)
Call = Callable[..., Any]


def list_ids(call: Call, index: Any, namespace: str) -> Iterator[list[str]]:
    """Pages of vector ids in ``namespace``."""
    token: str | None = None
    while True:
        page = call("list", index.list_paginated, limit=LIST_PAGE, pagination_token=token, namespace=namespace)
        ids = [item.id for item in page.vectors if item.id]
        if ids:
            yield ids
        token = page.pagination.next if page.pagination is not None else None
        if not token:
            return


def export(call: Call, index: Any, namespace: str, batch_size: int) -> Iterator[tuple[list[Chunk], list[list[float]]]]:
    """Every chunk in ``namespace`` with its vector, ``batch_size`` at a time (list, then fetch)."""
    size = max(1, batch_size)
    pending: list[str] = []
    for ids in list_ids(call, index, namespace):
        pending.extend(ids)
        while len(pending) >= size:
            head, pending = pending[:size], pending[size:]
            yield fetch_chunks(call, index, namespace, head)
    if pending:
        yield fetch_chunks(call, index, namespace, pending)


def fetch_chunks(call: Call, index: Any, namespace: str, ids: Sequence[str]) -> tuple[list[Chunk], list[list[float]]]:
    chunks: list[Chunk] = []
    vectors: list[list[float]] = []
    for i in range(0, len(ids), LIST_PAGE):
        part = list(ids[i : i + LIST_PAGE])
        got = call("fetch", index.fetch, ids=part, namespace=namespace).vectors
        for vid in part:
            vec = got.get(vid)
            if vec is not None:  # deleted since it was listed
                chunks.append(records.chunk_from(vid, vec.metadata))
                vectors.append([float(v) for v in vec.values])
    return chunks, vectors


def settle(
    count: Callable[[], int],
    fetch_ids: Callable[[Iterable[str]], set[str]],
    *,
    present: Sequence[str] = (),
    absent: Sequence[str] = (),
    expect_count: int | None = None,
    budget_s: float,
    interval_s: float,
) -> bool:
    """Poll until the ``present`` ids are fetchable, the ``absent`` ones are not, and the count settles.

    "Settled" is ``expect_count`` when given, else the same count read twice in a row.
    Returns False when ``budget_s`` ran out first (0 disables waiting and returns True).
    """
    if budget_s <= 0:
        return True
    deadline = time.monotonic() + budget_s
    previous: int | None = None
    while True:
        ready = True
        if present or absent:
            found = fetch_ids([*present, *absent])
            ready = all(i in found for i in present) and not any(i in found for i in absent)
        if ready:
            current = count()
            if current == expect_count or (expect_count is None and current == previous):
                return True
            if expect_count is None and previous is None:
                previous = current
                continue  # read the count once more right away
            previous = current
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
