"""The sync manifest: what was ingested from where, so re-ingest is incremental.

One JSON file per (store, collection). For each source it records the content
hash and the chunk ids produced, so that an unchanged file costs nothing, a
changed file replaces exactly its own chunks, and a vanished file's chunks
can be deleted by id (which every store supports, Pinecone serverless too).
Written atomically after every batch, so an interrupted run resumes cleanly.

Crash consistency. Each save bumps a ``generation`` number; secondary indexes
(BM25 ...) record the generation they were committed at, and an index whose
generation differs from the manifest's is rebuilt from the store. Before a
batch touches the store, :meth:`Manifest.begin` writes a small write-ahead
journal (``<manifest>.journal``) naming the sources it changes and the chunk
ids it may write, for the generation the next save will have. A journal newer
than the manifest means a run died between its store writes and its manifest
save: :meth:`Manifest.load` then marks those sources as changed (re-ingested
next time) and keeps every chunk id they may have left in the store (so the
re-ingest deletes any orphan), and ``interrupted`` tells the pipeline to
rebuild its secondary indexes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_app.atomic import AtomicFile
from rag_app.errors import ConfigError

VERSION = 1
_JOURNAL_SUFFIX = ".journal"


@dataclass
class SourceEntry:
    """What the store holds for one source."""

    doc_id: str
    content_hash: str
    chunk_ids: list[str]
    size: int = 0
    mtime: float = 0.0
    title: str = ""
    truncated_at: int = 0
    """The ``sources.max_chunks_per_file`` that cut this source short (0: indexed whole)."""


@dataclass
class Manifest:
    """All sources ingested into one collection, plus the collection fingerprint."""

    path: Path | None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    """Stored type of each metadata key seen (``integer``, ``number``, ``string``, ``boolean``, ``mixed``)."""
    generation: int = 0
    """Bumped by every save; secondary indexes record the generation they match."""
    interrupted: dict[str, list[str]] = field(default_factory=dict)
    """Sources an interrupted run was changing (from its journal), with the chunk ids it may have written."""

    @classmethod
    def load(cls, path: Path | None) -> Manifest:
        """Read the manifest at ``path`` (a missing file is an empty manifest), replaying a newer journal."""
        manifest = cls(path)
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                manifest.sources = {k: SourceEntry(**v) for k, v in raw["sources"].items()}
                manifest.generation = int(raw.get("generation", 0))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"sync manifest {path} is unreadable ({exc}); delete it and re-ingest with --rebuild"
                ) from exc
            manifest.fingerprint = raw.get("fingerprint", {})
            fields = raw.get("fields", {})
            manifest.fields = dict(fields) if isinstance(fields, dict) else {}
        manifest._replay_journal()
        return manifest

    def begin(self, changes: Mapping[str, tuple[str, Sequence[str]]]) -> None:
        """Journal the sources a batch is about to change, before it writes to the store.

        Args:
            changes: ``{source: (doc_id, chunk ids the batch may upsert)}`` (no ids for a removal).
        """
        journal = self._journal_path()
        if journal is None or not changes:
            return
        if self.interrupted:  # persist a replayed journal before this one replaces it
            self.save()
        payload = {
            "generation": self.generation + 1,
            "sources": {s: {"doc_id": d, "chunk_ids": list(ids)} for s, (d, ids) in sorted(changes.items())},
        }
        _atomic_write_json(journal, payload, indent=None)

    def save(self) -> None:
        """Write atomically (temp file + rename), bump the generation, close the journal."""
        self.generation += 1
        if self.path is None:
            return
        payload = {
            "version": VERSION,
            "generation": self.generation,
            "fingerprint": self.fingerprint,
            "sources": {k: asdict(v) for k, v in sorted(self.sources.items())},
            "fields": dict(sorted(self.fields.items())),
        }
        _atomic_write_json(self.path, payload, indent=1)
        journal = self._journal_path()
        if journal is not None:
            journal.unlink(missing_ok=True)
        self.interrupted.clear()

    def reset(self) -> None:
        """Forget every source (the generation keeps counting up)."""
        self.sources.clear()
        self.fields.clear()
        self.interrupted.clear()
        self.fingerprint = {}

    def _journal_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + _JOURNAL_SUFFIX)

    def _replay_journal(self) -> None:
        """Apply a journal newer than the manifest: its sources become "changed", their ids kept."""
        journal = self._journal_path()
        if journal is None or not journal.exists():
            return
        try:
            raw = json.loads(journal.read_text(encoding="utf-8"))
            generation = int(raw["generation"])
            changes = {str(s): (str(v["doc_id"]), [str(i) for i in v["chunk_ids"]]) for s, v in raw["sources"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"ingest journal {journal} is unreadable ({exc}); delete it and re-ingest with --rebuild"
            ) from exc
        if generation <= self.generation:  # the run saved the manifest after writing it
            return
        for source, (doc_id, ids) in changes.items():
            entry = self.sources.get(source)
            if entry is None:
                entry = self.sources[source] = SourceEntry(doc_id, "", [])
            entry.content_hash = ""  # never equal to a real hash: re-ingested by the next run
            entry.chunk_ids = list(dict.fromkeys([*entry.chunk_ids, *ids]))
            self.interrupted[source] = ids
        self.generation = generation


def _atomic_write_json(target: Path, payload: object, *, indent: int | None) -> None:
    """Write ``payload`` to ``target`` through a temp file + rename; a crash never leaves half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(target, prefix=f".{target.name}-") as fh:
        json.dump(payload, fh, indent=indent)
