"""Named commit points where tests kill ingestion with SIGKILL (inert unless an env var names one).

Set ``RAG_TEST_CRASH_AT=<point>`` (or ``<point>:<n>`` for its n-th occurrence in
the process) and the process kills itself with SIGKILL right after that point:

* ``journal``: the batch's journal is written, the store not touched yet;
* ``upsert``: a batch's chunks are in the store (and the journal), not in the manifest;
* ``delete``: a batch's or a prune's stale chunks are deleted from the store;
* ``manifest_save``: the manifest recorded a batch; secondary indexes are not committed yet;
* ``index_commit``: one secondary index was committed.

Without the variable each call is one dictionary lookup.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

ENV = "RAG_TEST_CRASH_AT"
POINTS = ("journal", "upsert", "delete", "manifest_save", "index_commit")

_seen: dict[str, int] = {}  # occurrences per point in this process (only counted while ENV is set)


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``RAG_TEST_CRASH_AT`` names this point (and occurrence)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == (int(nth) if nth.isdigit() else 1):
        logger.error("%s=%s: killing this process (a crash test)", ENV, wanted)
        logging.shutdown()
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
