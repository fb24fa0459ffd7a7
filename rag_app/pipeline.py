"""The Pipeline: the one object the CLI, the UI, the eval harness and the API use.

``build_pipeline(config)`` is the only place that turns a config into
components. Construction does no I/O; models and clients load on first use,
so a UI can cache one Pipeline and every request shares it. The pipeline holds
no per-user state.

It is the public face, so it is a little over the usual module size: each
method is a few lines over the Collection (``ingest.collection``), the
retrieval stages (``retrieval``) and answering (``answering``), which hold the
logic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag_app import registry
from rag_app.answering import AnswerStream, start_answer
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError, InputError
from rag_app.filtering import validate
from rag_app.generation.templates import PromptTemplate, load_template
from rag_app.ingest.collection import Collection, CollectionStats
from rag_app.ingest.embed_cache import EmbedCache
from rag_app.ingest.manifest import Manifest
from rag_app.ingest.runner import Ingestor, ProgressFn
from rag_app.ingest.sources import discover
from rag_app.protocols import (
    Chunker,
    Embedder,
    Generator,
    IndexListener,
    Loader,
    PreparesDocuments,
    Reranker,
    Retriever,
    TokenCounter,
    VectorStore,
    runs_locally,
)
from rag_app.retrieval.fusion import reciprocal_rank_fusion, weighted_score_fusion
from rag_app.retrieval.mmr import MaximalMarginalRelevance
from rag_app.retrieval.transforms import QueryTransform, build_query_transform
from rag_app.store_identity import state_path
from rag_app.types import Answer, Chunk, Document, Filter, IngestReport, Message, ScoredChunk

logger = logging.getLogger(__name__)

class Pipeline:
    """Ingest documents and retrieve chunks (answers come with the generator stage)."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        chunker: Chunker,
        embedder: Embedder,
        store: VectorStore,
        retrievers: Sequence[Retriever],
        template: PromptTemplate,
        generator: Generator | None = None,
        reranker: Reranker | None = None,
        query_transform: QueryTransform | None = None,
        mmr: MaximalMarginalRelevance | None = None,
    ) -> None:
        self.config = config
        self.chunker = chunker
        self.embedder = embedder
        self.store = store
        self.retrievers = list(retrievers)
        self.generator = generator
        self.reranker = reranker
        self.query_transform = query_transform
        self.mmr = mmr
        self.template = template
        self._loaders: dict[str, Loader] = {}
        self.collection = Collection(config, store=store, embedder=embedder, chunker=chunker, indexes=self.retrievers)

    # ---- identity -------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """What a collection built by this pipeline records about itself."""
        return self.collection.fingerprint()

    def manifest_path(self) -> Path:
        return self.collection.manifest_path()

    def listeners(self) -> list[IndexListener]:
        """Secondary indexes (BM25, a store's own fast index ...) that ingestion keeps in sync with the store."""
        return self.collection.listeners()

    # ---- ingestion --------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        prune: bool | None = None,
        rebuild: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest files and directories incrementally (see ``rag_app.ingest``)."""
        found = discover([Path(p) for p in paths], self.config.sources)
        with self.collection.writing():  # another process's ingest goes first
            do_prune = self.config.ingest.prune if prune is None else prune
            return self._ingestor(rebuild).run_files(
                found.files, found.roots, prune=do_prune, progress=progress, refused=found.refused
            )

    def ingest_documents(self, documents: Sequence[Document], *, rebuild: bool = False) -> IngestReport:
        """Ingest already-loaded documents (used by the eval harness for BEIR corpora)."""
        with self.collection.writing():
            return self._ingestor(rebuild).run_documents(documents)

    def _ingestor(self, rebuild: bool) -> Ingestor:
        manifest = self.collection.prepare_ingest(rebuild)
        return Ingestor(
            loader_for=self._loader_for,
            chunker=self.chunker,
            embedder=self.embedder,
            store=self.store,
            manifest=manifest,
            open_store=lambda: self._open_for_writing(manifest),
            listeners=self.collection.listeners(),
            batch_size=self.config.ingest.batch_size,
            max_file_bytes=int(self.config.sources.max_file_mb * 2**20),
            max_chunks=self.config.sources.max_chunks_per_file,
            embed_cache=EmbedCache(  # vectors by chunk-text hash, shared by every collection of this embedder
                self.config.resolve_path(self.config.ingest.state_dir),
                {"embedder": self.embedder.name, "normalized": self.embedder.normalized},
            ),
        )

    def _open_for_writing(self, manifest: Manifest) -> None:
        """Create or open the collection, then load the document encoder (ingestion runs this on a
        background thread while it loads and chunks the first files)."""
        self.collection.create(manifest)
        if isinstance(self.embedder, PreparesDocuments):
            self.embedder.prepare_documents()

    def index_drift(self) -> list[str]:
        """Secondary indexes that do not match the store, one line each (``rag doctor``; starts nothing)."""
        return self.collection.drift()

    def _loader_for(self, suffix: str) -> Loader:
        suffix = suffix.lower()
        if suffix not in self._loaders:
            spec = self.config.sources.loader_for(suffix)
            if spec is None:
                raise InputError(f"no loader for '{suffix}' files; add one under sources.loaders")
            self._loaders[suffix] = registry.create("loader", spec.type, spec.params, base_dir=self.config.base_dir)
        return self._loaders[suffix]

    # ---- retrieval --------------------------------------------------------
    def search(
        self, query: str, *, top_k: int | None = None, filters: Sequence[Filter] = ()
    ) -> list[ScoredChunk]:
        """The ``top_k`` most relevant chunks.

        Stages, each optional but the first: query transform (every rewritten
        query retrieved, the per-query lists fused with RRF), first-stage
        retrievers (fused if several), reranker, MMR diversity. ``filters``
        reach every retriever call unchanged.
        """
        if not query or not query.strip():
            raise InputError("the query is empty; type a question")
        cfg = self.config.retrieval
        k = top_k or cfg.top_k
        if k <= 0:
            raise InputError(f"top_k must be positive, got {k}")
        self.collection.open_for_query()
        filters = validate(filters, self.collection.field_types)  # `page="2"` from a command line means page 2
        if len(self.retrievers) == 1 and all(s is None for s in (self.reranker, self.query_transform, self.mmr)):
            return self.retrievers[0].retrieve(query, depth=k, filters=filters)
        depth = max(k, cfg.candidates)
        queries = self.query_transform.expand(query) if self.query_transform is not None else [query]
        lists = [self._first_stage(q, depth, filters) for q in queries]
        candidates = lists[0] if len(lists) == 1 else reciprocal_rank_fusion(lists, [1.0] * len(lists), k=cfg.fusion.k)
        keep = self.mmr.pool_size(k) if self.mmr is not None else k
        if self.reranker is not None:
            candidates = self.reranker.rerank(query, candidates[:depth], keep)
        if self.mmr is not None:
            return self.mmr.select(candidates, k)
        return candidates[:k]

    def _first_stage(self, query: str, depth: int, filters: Sequence[Filter]) -> list[ScoredChunk]:
        """Every retriever's ``depth`` best for ``query``, fused when there are several."""
        cfg = self.config.retrieval
        lists = [r.retrieve(query, depth=depth, filters=filters) for r in self.retrievers]
        if len(lists) == 1:
            return lists[0]
        weights = [spec.weight for spec in cfg.retrievers]
        if cfg.fusion.method == "rrf":
            return reciprocal_rank_fusion(lists, weights, k=cfg.fusion.k)
        return weighted_score_fusion(lists, weights)

    # ---- answers ------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        history: Sequence[Message] = (),
        top_k: int | None = None,
        filters: Sequence[Filter] = (),
        max_tokens: int | None = None,
    ) -> AnswerStream:
        """Retrieve now; iterate the result for answer text, then read ``.answer``.

        ``max_tokens`` caps this answer's length (default: ``answer.max_tokens``, else the generator's).
        """
        if not question or not question.strip():
            raise InputError("the question is empty; type a question")
        if self.generator is None:
            raise ConfigError("this pipeline has no generator; add a `generator:` block to its config")
        return start_answer(
            question,
            history=history,
            search=lambda q, k, f: self.search(q, top_k=k, filters=f),
            top_k=top_k,
            filters=filters,
            generator=self.generator,
            template=self.template,
            config=self.config.answer if max_tokens is None else self.config.answer.model_copy(
                update={"max_tokens": max_tokens}
            ),
            hosted=not runs_locally(self.generator),
            dense=any(spec.type == "dense" for spec in self.config.retrieval.retrievers),
        )

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Message] = (),
        top_k: int | None = None,
        filters: Sequence[Filter] = (),
        max_tokens: int | None = None,
    ) -> Answer:
        """A complete grounded answer (see :meth:`stream` for token streaming)."""
        return self.stream(question, history=history, top_k=top_k, filters=filters, max_tokens=max_tokens).result()

    # ---- inspection -------------------------------------------------------
    def stats(self) -> CollectionStats:
        return self.collection.stats()

    def documents(self) -> list[dict[str, Any]]:
        """Ingested sources from the manifest (for listing and deleting)."""
        return self.collection.documents()

    def source_document(self, chunk: Chunk) -> Document | None:
        """The document (the PDF page, the whole Markdown file ...) ``chunk`` was cut from, loaded again now.

        Read-only: for showing a cited chunk in its context (the UI's source panel).
        The chunk's ``start_char``/``end_char`` index into this document's text as
        long as the file has not changed since it was ingested.

        Returns:
            None when the source is no longer a file on this machine.

        Raises:
            InputError: the file cannot be loaded any more (the loader's one-line reason).
        """
        path = Path(chunk.source)
        if not path.is_file():
            return None
        documents = self._loader_for(path.suffix).load(path, source=chunk.source, doc_id=chunk.doc_id)
        page = chunk.metadata.get("page")
        matching = [d for d in documents if d.metadata.get("page") == page] or documents
        return matching[0] if matching else None

    def delete_document(self, source: str) -> int:
        """Remove one ingested source (its chunks, sparse-index entries, manifest entry).

        Returns:
            The number of chunks deleted.
        """
        return self.collection.delete_source(source)

    def close(self) -> None:
        self.collection.close()


def build_pipeline(config: PipelineConfig) -> Pipeline:
    """Validate every component's params and build the pipeline (no I/O yet)."""
    ctx = {"base_dir": config.base_dir}
    embedder = registry.create("embedder", config.embedder.type, config.embedder.params, **ctx)
    chunker = registry.create(
        "chunker", config.chunker.type, config.chunker.params, tokenizer=_LazyTokenizer(embedder), **ctx
    )
    store = registry.create("store", config.store.type, config.store.params, **ctx)
    retrievers = [
        registry.create(
            "retriever",
            spec.type,
            spec.params,
            embedder=embedder,
            store=store,
            index_dir=state_path(config, spec.type, ""),
            **ctx,
        )
        for spec in config.retrieval.retrievers
    ]
    for suffix, spec in config.sources.loaders.items():
        if not suffix.startswith("."):
            raise ConfigError(f"sources.loaders key {suffix!r} must be a file extension like '.md'")
        registry.validate_params("loader", spec.type, spec.params)
    generator = None
    if config.generator is not None:
        generator = registry.create("generator", config.generator.type, config.generator.params, **ctx)
    reranker = None
    if config.retrieval.reranker is not None:
        spec = config.retrieval.reranker
        reranker = registry.create("reranker", spec.type, spec.params, generator=generator, **ctx)
    query_transform = build_query_transform(config.retrieval.query_transform, generator, base_dir=config.base_dir)
    mmr = None
    if config.retrieval.mmr is not None:
        mmr = registry.create("mmr", "mmr", config.retrieval.mmr, embedder=embedder, **ctx)
    template = load_template(config.answer.template, base_dir=config.base_dir)  # a bad name fails here
    return Pipeline(
        config,
        chunker=chunker,
        embedder=embedder,
        store=store,
        retrievers=retrievers,
        template=template,
        generator=generator,
        reranker=reranker,
        query_transform=query_transform,
        mmr=mmr,
    )


class _LazyTokenizer:
    """Defers loading the embedder's tokenizer until a chunker first needs it."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._tokenizer: TokenCounter | None = None  # resolved once: splitters call count() per word

    def _get(self) -> TokenCounter:
        if self._tokenizer is None:
            self._tokenizer = self._embedder.tokenizer()
        return self._tokenizer

    def count(self, text: str) -> int:
        return self._get().count(text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return self._get().spans(text)
