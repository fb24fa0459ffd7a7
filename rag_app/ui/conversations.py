"""Saved conversations: one SQLite file per collection, under the pipeline's ``ingest.state_dir``.

A conversation is a titled list of turns (question, and the answer or error it
got). Answers are stored whole (text, citations, sources, checks, timings) as
JSON, so a conversation reopened after ``rag ui`` restarts shows its citations
and source panels as they were. The file lives next to the collection's
manifest (``rag_app.store_identity.state_path``): configs over one collection
share their conversations, other collections have their own.

Every call opens its own connection: Streamlit serves each browser session
from its own thread, and SQLite serialises the writers.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.config import PipelineConfig
from rag_app.errors import BackendError
from rag_app.store_identity import state_path
from rag_app.types import Answer, Chunk, Citation, Claim, ScoredChunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT,
    error TEXT,
    config TEXT NOT NULL DEFAULT '',
    needs_documents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, position)
);
"""


@dataclass
class Turn:
    """One question and what came back (an answer or a one-line error)."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    config: str = ""
    needs_documents: bool = False


@dataclass(frozen=True)
class Conversation:
    """A saved conversation as the sidebar lists it."""

    id: int
    title: str
    updated: float
    turns: int


def conversations_path(config: PipelineConfig) -> Path:
    """The SQLite file holding the conversations about ``config``'s collection."""
    return state_path(config, "conversations", ".sqlite3")


class ConversationStore:
    """Conversations about one collection (created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.executescript(_SCHEMA)
                with conn:  # one transaction per call
                    yield conn
        except sqlite3.Error as exc:
            raise BackendError(f"conversations in {self.path}: {exc}; delete the file to start afresh") from exc

    def recent(self, limit: int = 50) -> list[Conversation]:
        """The most recently updated conversations first."""
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT c.id, c.title, c.updated, COUNT(t.position) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation_id = c.id GROUP BY c.id ORDER BY c.updated DESC, c.id DESC "
                "LIMIT ?",
                (limit,),
            ).fetchall()
        return [Conversation(int(i), str(title), float(updated), int(n)) for i, title, updated, n in rows]

    def create(self, title: str) -> int:
        """A new, empty conversation; returns its id."""
        now = time.time()
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)", (title.strip(), now, now)
            )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def save(self, conversation_id: int, turns: Sequence[Turn]) -> None:
        """Replace the conversation's turns with ``turns`` (in order)."""
        rows = [
            (
                conversation_id,
                position,
                turn.question,
                None if turn.answer is None else json.dumps(dataclasses.asdict(turn.answer), default=str),
                turn.error,
                turn.config,
                int(turn.needs_documents),
            )
            for position, turn in enumerate(turns)
        ]
        with self._connect() as conn:
            found = conn.execute(
                "UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), conversation_id)
            ).rowcount
            if not found:
                raise BackendError(f"conversation {conversation_id} no longer exists (deleted in another tab?)")
            conn.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            conn.executemany("INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def turns(self, conversation_id: int) -> list[Turn]:
        """The conversation's turns in order (empty when it does not exist)."""
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT question, answer, error, config, needs_documents FROM turns "
                "WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return [
            Turn(question, None if answer is None else answer_from_dict(json.loads(answer)), error, config, bool(nd))
            for question, answer, error, config, nd in rows
        ]

    def delete(self, conversation_id: int) -> bool:
        """Delete a conversation and its turns; False when there was none with that id."""
        with self._connect() as conn:
            return conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0


def _fields(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that ``cls`` has (a file written by a newer version may have more)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _chunk(data: dict[str, Any]) -> Chunk:
    return Chunk(**_fields(Chunk, data))


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """The :class:`Answer` that ``dataclasses.asdict`` turned into ``data``."""
    fields = _fields(Answer, data)
    fields["citations"] = [
        Citation(**{**_fields(Citation, c), "chunk": _chunk(c["chunk"])}) for c in data.get("citations", [])
    ]
    fields["sources"] = [
        ScoredChunk(_chunk(s["chunk"]), float(s["score"]), dict(s.get("scores") or {})) for s in data.get("sources", [])
    ]
    fields["claims"] = [Claim(**_fields(Claim, c)) for c in data.get("claims", [])]
    return Answer(**fields)
