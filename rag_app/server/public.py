"""What an answer shows a client: sources named relative to their ingest root, never by a server path.

``rag.sources[].source`` and ``rag.citations[].source`` carry the file's path
relative to the folder it was ingested from (the chunk's ``relpath``), so a
client learns nothing about the server's file system. A source without one
is shown by its file name; web addresses are kept as they are.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from rag_app.answering import answer_dict
from rag_app.types import Answer, Chunk


def public_source(chunk: Chunk) -> str:
    """The name a client sees for a chunk's source."""
    relpath = chunk.metadata.get("relpath")
    if relpath:
        return str(relpath)
    source = chunk.source
    if source.startswith(("http://", "https://")):
        return source
    if source.startswith("file:"):
        source = source[len("file:") :].lstrip("/") or source
    name = PureWindowsPath(source).name if "\\" in source else PurePosixPath(source).name
    return name or source


def public_answer(answer: Answer) -> dict[str, Any]:
    """``answer_dict`` with every source named by :func:`public_source`."""
    body = answer_dict(answer)
    for item, hit in zip(body["sources"], answer.sources, strict=True):
        item["source"] = public_source(hit.chunk)
    for item, citation in zip(body["citations"], answer.citations, strict=True):
        item["source"] = public_source(citation.chunk)
    return body
