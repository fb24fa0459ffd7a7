"""Incremental ingestion: load → chunk → embed (batched, de-duplicated) → upsert.

Order of operations per batch keeps the store consistent if anything fails:
the manifest's journal names the batch's sources first, then new chunks are
upserted, then the file's stale chunks are deleted, then the manifest records
the file. A crash or a backend error therefore loses nothing already ingested,
and the next run resumes where this one stopped: the journal marks the sources
the dead run was changing, so they are re-ingested and their orphans deleted.
Secondary indexes are committed once per run, stamped with the manifest
generation; the pipeline rebuilds one whose stamp differs (see ``manifest``).

The store is opened (for Milvus Lite: its server started) and the document
encoder loaded on a background thread from the first file that needs work, while
this thread goes on loading and chunking files: on a first ingest of a small
folder those two waits were a third of the run. Every store write stays on this
thread, in batch order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from rag_app.errors import InputError, one_line
from rag_app.filtering import field_types, observe_types
from rag_app.ids import content_hash, doc_id_for
from rag_app.ingest.bounds import cut_documents, token_budget
from rag_app.ingest.crashpoints import crash_point
from rag_app.ingest.embed_cache import EmbedCache
from rag_app.ingest.manifest import Manifest, SourceEntry
from rag_app.ingest.sources import PrefetchedPath, Refused, SourceFile, under_roots
from rag_app.protocols import Chunker, Embedder, IndexListener, Loader, VectorStore
from rag_app.types import Chunk, Document, IngestReport

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]
"""Called as ``progress(files_done, files_total, current)``: ``current`` is the file's relpath
followed by the embedding rate so far (``notes/a.md  31.2 chunks/s``) once one batch is done."""


@dataclass
class _Pending:
    entry: SourceEntry
    source: str
    chunks: list[Chunk]
    is_new: bool


@dataclass
class Ingestor:
    """Runs one ingestion over already-built components."""

    loader_for: Callable[[str], Loader]
    chunker: Chunker
    embedder: Embedder
    store: VectorStore
    manifest: Manifest
    open_store: Callable[[], None]
    """Creates/opens the collection and loads the document encoder; called once, on a background
    thread, when the first file needs work (``_ensure_open`` waits for it before the first write)."""
    listeners: list[IndexListener] = field(default_factory=list)
    batch_size: int = 64
    max_file_bytes: int = 50 * 1024 * 1024
    max_chunks: int = 2000
    """``sources.max_chunks_per_file``: chunks past it are not indexed (one warning per file)."""
    embed_cache: EmbedCache | None = None
    """Vectors by chunk-text hash, across files and runs (None: embed every new text)."""
    report: IngestReport = field(default_factory=IngestReport)
    _pending: list[_Pending] = field(default_factory=list)
    _opening: Future[None] | None = None
    _started: float = 0.0

    def _start_open(self) -> None:
        """Open the store on a background thread, once; loading and chunking go on meanwhile."""
        if self._opening is None:
            opening: Future[None] = Future()

            def work() -> None:
                try:
                    self.open_store()
                    opening.set_result(None)
                except BaseException as exc:  # re-raised on this thread by _ensure_open
                    opening.set_exception(exc)

            self._opening = opening
            threading.Thread(target=work, name="rag-ingest-open", daemon=True).start()

    def _ensure_open(self) -> None:
        """Wait for the store to be open; its error (a dimension mismatch ...) is raised here."""
        self._start_open()
        assert self._opening is not None
        self._opening.result()

    def _settle(self) -> None:
        """Never leave the store half-opened behind the caller (who may close it next)."""
        if self._opening is not None:
            self._opening.exception()  # waits; an error that mattered was raised by _ensure_open

    def run_files(
        self,
        files: Sequence[SourceFile],
        roots: list[str],
        *,
        prune: bool,
        progress: ProgressFn | None = None,
        refused: Sequence[Refused] = (),
    ) -> IngestReport:
        """Ingest ``files``; ``refused`` entries (links out of the roots ...) count as failed, one line each."""
        start = self._started = time.perf_counter()
        self.report.files_seen = len(files) + len(refused)
        for entry in refused:
            self._fail(entry.relpath, entry.message)
        try:
            for i, file in enumerate(files):
                if progress:
                    progress(i, len(files), self._with_rate(file.relpath))
                try:
                    self._visit(file)
                except InputError as exc:
                    self._fail(file.relpath, str(exc))
                if self._pending_chunks() >= self.batch_size:
                    self._flush()
            self._flush()
            if prune:
                seen = {f.source for f in files}
                gone = [s for s in self.manifest.sources if under_roots(s, roots) and s not in seen]
                self._remove_sources(gone)
        finally:  # whatever reached the store and manifest also reaches the secondary indexes
            self._settle()
            self._commit_listeners()
            if self.embed_cache is not None:
                self.embed_cache.close()
        if progress:
            progress(len(files), len(files), self._with_rate(""))
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _with_rate(self, current: str) -> str:
        """``current`` plus the chunks ingested per wall-clock second so far (the bar shows the ETA)."""
        elapsed = time.perf_counter() - self._started
        if not self.report.chunks_added or elapsed <= 0:
            return current
        return f"{current}  {self.report.chunks_added / elapsed:.1f} chunks/s".strip()

    def run_documents(self, documents: Sequence[Document]) -> IngestReport:
        """Ingest documents that are already loaded (e.g. an eval corpus), grouped by source."""
        start = time.perf_counter()
        groups: dict[str, list[Document]] = {}
        for doc in documents:
            groups.setdefault(doc.source, []).append(doc)
        self.report.files_seen = len(groups)
        try:
            for source, docs in groups.items():
                digest = content_hash("\x00".join(d.text for d in docs).encode("utf-8"))
                if not self._needs_work(source, digest):
                    continue
                title = str(docs[0].metadata.get("title", ""))
                try:
                    self._queue(source, docs, SourceEntry(docs[0].doc_id, digest, [], title=title))
                except InputError as exc:
                    self._fail(source, str(exc))
                if self._pending_chunks() >= self.batch_size:
                    self._flush()
            self._flush()
        finally:
            self._settle()
            self._commit_listeners()
            if self.embed_cache is not None:
                self.embed_cache.close()
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _visit(self, file: SourceFile) -> None:
        stat = file.path.stat()
        if stat.st_size > self.max_file_bytes:
            raise InputError(
                f"{file.relpath}: {stat.st_size / 2**20:.1f} MB exceeds sources.max_file_mb; "
                "raise it or exclude the file"
            )
        try:
            data = file.path.read_bytes()
        except OSError as exc:
            raise InputError(f"{file.relpath}: cannot read ({exc.strerror})") from exc
        digest = content_hash(data)
        if not self._needs_work(file.source, digest):
            return
        doc_id = doc_id_for(file.source)
        loader = self.loader_for(file.path.suffix)
        try:  # the loader gets the bytes just hashed: each file is read once
            docs = loader.load(PrefetchedPath.holding(file.path, data), source=file.source, doc_id=doc_id)
        except InputError as exc:  # loaders name the file by its full path; reports name it as the user gave it
            raise InputError(str(exc).replace(str(file.path), file.relpath)) from exc
        except Exception as exc:  # a parser bug on one odd file must not stop the batch
            raise InputError(f"{file.relpath}: could not be parsed ({one_line(exc)})") from exc
        extra = {"relpath": file.relpath, "mtime": stat.st_mtime, "content_hash": digest}
        docs = [Document(d.doc_id, d.source, d.text, {**d.metadata, **extra}) for d in docs]
        title = str(docs[0].metadata.get("title", "")) if docs else ""
        entry = SourceEntry(doc_id, digest, [], size=stat.st_size, mtime=stat.st_mtime, title=title)
        self._queue(file.source, docs, entry, file.relpath)

    def _needs_work(self, source: str, digest: str) -> bool:
        old = self.manifest.sources.get(source)
        # A file cut short under another max_chunks_per_file is split again under this one.
        recut = old is not None and old.truncated_at not in (0, self.max_chunks)
        if old is not None and old.content_hash == digest and not recut:
            self.report.files_unchanged += 1
            return False
        return True

    def _queue(self, source: str, docs: list[Document], entry: SourceEntry, name: str | None = None) -> None:
        budget = token_budget(self.chunker, self.max_chunks)
        cut = False
        if budget is not None:
            docs, cut = cut_documents(docs, self.embedder.tokenizer(), budget)
        chunks = self.chunker.split(docs)
        if not chunks:
            raise InputError(f"{source}: produced no chunks (no text after loading)")
        if len(chunks) > self.max_chunks:
            chunks, cut = chunks[: self.max_chunks], True
        if cut:
            logger.warning(
                "%s: only its first %d chunks are indexed (sources.max_chunks_per_file is %d); "
                "raise it or split the file", name or source, len(chunks), self.max_chunks,
            )
            entry.truncated_at = self.max_chunks
        entry.chunk_ids = [c.chunk_id for c in chunks]
        self._pending.append(_Pending(entry, source, chunks, source not in self.manifest.sources))
        self._start_open()  # after this thread's first chunking: the tokenizer is loaded here, not there

    def _pending_chunks(self) -> int:
        return sum(len(p.chunks) for p in self._pending)

    def _flush(self) -> None:
        if not self._pending:
            return
        self._ensure_open()
        chunks = [c for p in self._pending for c in p.chunks]
        vectors = self._embed_unique([c.text for c in chunks])
        self.manifest.begin({p.source: (p.entry.doc_id, p.entry.chunk_ids) for p in self._pending})
        crash_point("journal")
        self.store.upsert(chunks, vectors)
        crash_point("upsert")
        for listener in self.listeners:
            listener.on_upsert(chunks)
        self.manifest.fields = dict(observe_types(field_types(self.manifest.fields), (c.metadata for c in chunks)))
        for p in self._pending:
            old = self.manifest.sources.get(p.source)
            stale = sorted(set(old.chunk_ids) - set(p.entry.chunk_ids)) if old else []
            if stale:
                self._delete(stale)
                self.report.chunks_removed += len(stale)
            self.report.chunks_added += len(p.chunks)
            if p.is_new:
                self.report.files_new += 1
            else:
                self.report.files_changed += 1
            self.manifest.sources[p.source] = p.entry
        self.manifest.save()
        crash_point("manifest_save")
        self._pending.clear()

    def _embed_unique(self, texts: list[str]) -> list[list[float]]:
        """Embed each distinct text once: repeats in the batch and texts the cache knows are free."""
        unique = list(dict.fromkeys(texts))
        vectors = self.embed_cache.get_many(unique) if self.embed_cache is not None else {}
        missing = [t for t in unique if t not in vectors]
        if missing:
            fresh = self.embedder.embed_documents(missing)
            vectors.update(zip(missing, fresh, strict=True))
            if self.embed_cache is not None:
                self.embed_cache.put_many(missing, fresh)
        self.report.embeddings_computed += len(missing)
        return [vectors[t] for t in texts]

    def _remove_sources(self, sources: list[str]) -> None:
        if sources:
            self._ensure_open()
            self.manifest.begin({s: (self.manifest.sources[s].doc_id, []) for s in sources})
        for source in sources:
            entry = self.manifest.sources[source]
            self._delete(entry.chunk_ids)
            self.report.chunks_removed += len(entry.chunk_ids)
            self.report.files_removed += 1
            del self.manifest.sources[source]
        if sources:
            self.manifest.save()
            crash_point("manifest_save")

    def _delete(self, chunk_ids: list[str]) -> None:
        self.store.delete(chunk_ids)
        crash_point("delete")
        for listener in self.listeners:
            listener.on_delete(chunk_ids)

    def _commit_listeners(self) -> None:
        """Persist every secondary index, stamped with the manifest generation it now matches."""
        for listener in self.listeners:
            listener.commit(self.manifest.generation)
            crash_point("index_commit")

    def _fail(self, source: str, message: str) -> None:
        logger.warning("skipped %s", message)
        self.report.files_failed += 1
        self.report.errors.append({"source": source, "error": message})

