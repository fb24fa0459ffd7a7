"""The stage protocols. Backends match them structurally (no inheritance needed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from rag_app.types import Chunk, Document, Filter, GenerationResult, Message, ScoredChunk, TextStream


@runtime_checkable
class TokenCounter(Protocol):
    """Measures text in a model's own tokens; chunkers size chunks with it."""

    def count(self, text: str) -> int: ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of every token, in order."""
        ...


@runtime_checkable
class Loader(Protocol):
    """Turns one file into one or more Documents (e.g. one per PDF page)."""

    extensions: tuple[str, ...]

    def load(self, path: Path, *, source: str, doc_id: str) -> list[Document]: ...


@runtime_checkable
class Chunker(Protocol):
    """Splits documents into chunks that keep their source location."""

    def params_fingerprint(self) -> dict[str, object]: ...

    def split(self, documents: Sequence[Document]) -> list[Chunk]: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to vectors; queries and documents may be encoded differently."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def normalized(self) -> bool: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def tokenizer(self) -> TokenCounter:
        """This embedder's own tokenizer (chunk sizes are measured with it)."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """Stores chunks with their vectors and searches them."""

    def open(self, dimension: int, fingerprint: dict[str, object]) -> None:
        """Create or open the collection; raise FingerprintMismatchError if it differs."""
        ...

    def fingerprint(self) -> dict[str, object] | None:
        """The fingerprint recorded in the collection, or None if it does not exist."""
        ...

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def search(
        self, vector: Sequence[float], top_k: int, filters: Sequence[Filter] = ()
    ) -> list[ScoredChunk]: ...

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Delete chunks by id (ids that do not exist are ignored)."""
        ...

    def count(self) -> int: ...

    def drop(self) -> None:
        """Delete the whole collection (used by ``rag ingest --rebuild``)."""
        ...

    def export(self, batch_size: int = 256) -> Iterator[tuple[list[Chunk], list[list[float]]]]:
        """Every stored chunk with its vector, in batches (migration, index backfills)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TextSearchStore(Protocol):
    """A store that runs full-text search itself (the ``milvus`` store)."""

    @property
    def full_text(self) -> bool: ...

    def search_text(self, query: str, top_k: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]: ...


@runtime_checkable
class Generator(Protocol):
    """Produces text from chat messages, whole or as a token stream."""

    @property
    def name(self) -> str: ...

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult: ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> TextStream:
        """Yield text pieces as they are produced (concatenated they form the answer).

        The stream's return value is a ``GenerationResult`` (token counts, finish reason)
        when the backend knows them, else None. Closing the stream early stops generation.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Length of ``text`` in this model's tokens (for the prompt's context budget)."""
        ...


def runs_locally(generator: Generator) -> bool:
    """Whether ``generator`` computes in this process (its class sets ``runs_locally = True``).

    Hosted generators are the default: a follow-up question is condensed into a standalone one
    with them, since a hosted call is cheap next to a local model's prompt time.
    """
    return bool(getattr(generator, "runs_locally", False))


@runtime_checkable
class Retriever(Protocol):
    """A first-stage retriever (dense, BM25, ...); several can be fused."""

    name: str

    def retrieve(self, query: str, *, depth: int, filters: Sequence[Filter] = ()) -> list[ScoredChunk]: ...


@runtime_checkable
class Reranker(Protocol):
    """Re-scores first-stage candidates (cross-encoder, stronger bi-encoder, ...)."""

    name: str

    def rerank(self, query: str, hits: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        """The best ``top_k`` of ``hits`` by the reranker's score; ``scores`` keeps earlier stages."""
        ...


@runtime_checkable
class IndexListener(Protocol):
    """A secondary index (e.g. BM25) that ingestion keeps in sync with the store.

    Crash consistency: ``commit(generation)`` persists the index together with
    the sync manifest generation it matches, atomically; the pipeline rebuilds
    the index from ``VectorStore.export()`` whenever ``generation()`` differs
    from the manifest's (or a crashed run's journal is open).
    """

    def on_upsert(self, chunks: Sequence[Chunk]) -> None: ...

    def on_delete(self, chunk_ids: Iterable[str]) -> None: ...

    def commit(self, generation: int | None = None) -> None:
        """Persist the changes so far, stamped with ``generation`` (None: matches no manifest)."""
        ...

    def clear(self) -> None:
        """Forget every chunk, persisted at once with no generation (a crash after it forces a rebuild)."""
        ...

    def size(self) -> int:
        """Number of chunks it holds (compared with the store to detect drift)."""
        ...

    def generation(self) -> int | None:
        """The manifest generation of the last commit (None: unknown, never committed, or cleared)."""
        ...


@runtime_checkable
class PreparesDocuments(Protocol):
    """An embedder that loads its document encoder lazily and can be asked to load it now."""

    def prepare_documents(self) -> None: ...


@runtime_checkable
class ChoiceScorer(Protocol):
    """A generator that can score the first token of a reply without generating it."""

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        """Log-probability of each of ``choices`` opening the reply, one row per conversation."""
        ...
