"""The sync manifest: what was ingested from where, so re-ingest is incremental.

One JSON file per (store, collection). For each source it records the content
hash and the chunk ids produced, so that an unchanged file costs nothing, a
changed file replaces exactly its own chunks, and a vanished file's chunks
can be deleted by id (which every store supports, Pinecone serverless too).
Written atomically after every batch, so an interrupted run resumes cleanly.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_app.errors import ConfigError

VERSION = 1


@dataclass
class SourceEntry:
    """What the store holds for one source."""

    doc_id: str
    content_hash: str
    chunk_ids: list[str]
    size: int = 0
    mtime: float = 0.0
    title: str = ""


@dataclass
class Manifest:
    """All sources ingested into one collection, plus the collection fingerprint."""

    path: Path | None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    """Stored type of each metadata key seen (``integer``, ``number``, ``string``, ``boolean``, ``mixed``)."""

    @classmethod
    def load(cls, path: Path | None) -> Manifest:
        """Read the manifest at ``path`` (a missing file is an empty manifest)."""
        if path is None or not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            sources = {k: SourceEntry(**v) for k, v in raw["sources"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"sync manifest {path} is unreadable ({exc}); delete it and re-ingest with --rebuild"
            ) from exc
        fields = raw.get("fields", {})
        return cls(path, raw.get("fingerprint", {}), sources, dict(fields) if isinstance(fields, dict) else {})

    def save(self) -> None:
        """Write atomically (temp file + rename); a crash never leaves half a file."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "sources": {k: asdict(v) for k, v in sorted(self.sources.items())},
            "fields": dict(sorted(self.fields.items())),
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".manifest-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def reset(self) -> None:
        self.sources.clear()
        self.fields.clear()
        self.fingerprint = {}

    def chunk_count(self) -> int:
        return sum(len(e.chunk_ids) for e in self.sources.values())
