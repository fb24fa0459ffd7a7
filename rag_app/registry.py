"""Maps ``(kind, name)`` to ``"module:Class"`` and builds components lazily.

A backend module is imported only when a config selects it, so ``import
rag_app`` stays light and a missing optional package becomes a one-line
``pip install 'rag-app[extra]'`` hint. Arbitrary import paths from YAML are
deliberately not supported: an application adds its own backend in code with
:func:`register`, and its YAML then selects it by name like any other.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ValidationError

from rag_app.errors import ConfigError, MissingDependencyError, one_line
from rag_app.validation import first_problem

_B = "rag_app.backends"

# kind -> name -> (target, extra that provides its dependencies; "" for an application's own backend)
REGISTRY: dict[str, dict[str, tuple[str, str]]] = {
    "loader": {
        "text": (f"{_B}.loaders.text:TextLoader", "core"),
        "markdown": (f"{_B}.loaders.text:MarkdownLoader", "core"),
        "html": (f"{_B}.loaders.html:HtmlLoader", "core"),
        "pdf": (f"{_B}.loaders.pdf:PdfLoader", "core"),
        "docx": (f"{_B}.loaders.docx:DocxLoader", "core"),
    },
    "chunker": {
        "recursive": (f"{_B}.chunkers.recursive:RecursiveChunker", "core"),
        "markdown": (f"{_B}.chunkers.markdown:MarkdownChunker", "core"),
        "sentence": (f"{_B}.chunkers.sentence:SentenceChunker", "llamaindex"),
        "fixed": (f"{_B}.chunkers.fixed:FixedChunker", "core"),
    },
    "embedder": {
        "sentence_transformers": (
            f"{_B}.embedders.sentence_transformers:SentenceTransformerEmbedder",
            "hf",
        ),
        "openai": (f"{_B}.embedders.openai:OpenAIEmbedder", "openai"),
        "hashing": (f"{_B}.embedders.hashing:HashingEmbedder", "core"),
    },
    "retriever": {
        "dense": (f"{_B}.retrievers.dense:DenseRetriever", "core"),
        "bm25": (f"{_B}.retrievers.bm25:BM25Retriever", "hybrid"),
        "milvus_bm25": (f"{_B}.retrievers.milvus_bm25:MilvusBM25Retriever", "milvus"),
    },
    "reranker": {
        "cross_encoder": (f"{_B}.rerankers.cross_encoder:CrossEncoderReranker", "hf"),
        "bi_encoder": (f"{_B}.rerankers.bi_encoder:BiEncoderReranker", "hf"),
        "llm": (f"{_B}.rerankers.llm:LLMReranker", "core"),
    },
    "generator": {
        "hf_local": (f"{_B}.generators.hf_local:HFLocalGenerator", "hf"),
        "openai": (f"{_B}.generators.openai:OpenAIGenerator", "openai"),
        "llama_cpp": (f"{_B}.generators.llama_cpp:LlamaCppGenerator", "llama"),
        "extractive": (f"{_B}.generators.extractive:ExtractiveGenerator", "core"),
    },
    "query_transform": {
        "multi_query": ("rag_app.retrieval.transforms:MultiQueryTransform", "core"),
        "hyde": ("rag_app.retrieval.transforms:HydeTransform", "core"),
    },
    "mmr": {
        "mmr": ("rag_app.retrieval.mmr:MaximalMarginalRelevance", "core"),
    },
    "store": {
        "milvus": (f"{_B}.stores.milvus:MilvusStore", "milvus"),
        "memory": (f"{_B}.stores.memory:MemoryStore", "core"),
        "pinecone": (f"{_B}.stores.pinecone:PineconeStore", "pinecone"),
    },
}


def names(kind: str) -> list[str]:
    """Registered names for ``kind``, sorted."""
    return sorted(REGISTRY.get(kind, {}))


_BUILT_IN = {kind: frozenset(entries) for kind, entries in REGISTRY.items()}


def _require_kind(kind: str) -> None:
    if kind not in REGISTRY:
        raise ConfigError(f"unknown component kind {kind!r}; valid kinds: {', '.join(sorted(REGISTRY))}")


def register(kind: str, name: str, target: str, extra: str = "") -> None:
    """Make ``"module:Class"`` the ``kind`` backend called ``name`` (imported when a config selects it).

    The class follows the kind's protocol and has a ``Params`` model (``extra="forbid"``);
    it is built as ``Class(params, base_dir=...)`` like the built-in backends. ``extra``
    names the rag-app extra that installs its dependencies, if one does: a missing
    package then gets the ``pip install`` hint, otherwise a failed import is reported
    as the application's.

    Raises:
        ConfigError: an unknown kind, a malformed target, or a name already taken by another target.
    """
    _require_kind(kind)
    module_name, sep, attr = target.partition(":")
    if not (module_name and sep and attr):
        raise ConfigError(f"register {kind} {name!r}: target {target!r} is not 'module:Class'")
    taken = REGISTRY[kind].get(name)
    if taken is not None and taken[0] != target:
        raise ConfigError(f"{kind} type {name!r} is already registered as {taken[0]}; pick another name")
    REGISTRY[kind][name] = (target, extra)


def unregister(kind: str, name: str) -> None:
    """Remove a backend added with :func:`register` (nothing happens for an unknown name).

    Raises:
        ConfigError: ``name`` is one of rag_app's own backends.
    """
    if name in _BUILT_IN.get(kind, frozenset()):
        raise ConfigError(f"{kind} type {name!r} is built in and cannot be unregistered")
    REGISTRY.get(kind, {}).pop(name, None)


def resolve(kind: str, name: str) -> type[Any]:
    """Import and return the class registered as ``(kind, name)``."""
    _require_kind(kind)
    entry = REGISTRY[kind].get(name)
    if entry is None:
        raise ConfigError(
            f"unknown {kind} type {name!r}; valid {kind} types: {', '.join(names(kind))}"
        )
    target, extra = entry
    module_name, _, attr = target.partition(":")
    if not extra:
        return _resolve_registered(kind, name, module_name, attr)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and missing != "rag_app":
            raise MissingDependencyError(missing, extra, f"{kind} {name!r}") from exc
        raise
    cls: type[Any] = getattr(module, attr)
    return cls


def _resolve_registered(kind: str, name: str, module_name: str, attr: str) -> type[Any]:
    """An application's backend: an import failure is its code or its environment, not a rag_app extra."""
    try:
        cls: type[Any] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"{kind} {name!r} is registered as {module_name}:{attr}, "
            f"which cannot be imported ({one_line(exc, type_name=False)})"
        ) from exc
    if not isinstance(getattr(cls, "Params", None), type) or not issubclass(cls.Params, BaseModel):
        raise ConfigError(f"{kind} {name!r} ({module_name}:{attr}) has no pydantic Params model; add one")
    return cls


def parse_params(kind: str, name: str, params: dict[str, Any]) -> BaseModel | str:
    """The backend's ``Params`` (``extra="forbid"``) built from ``params``, or its first problem on one line."""
    model: type[BaseModel] = resolve(kind, name).Params
    try:
        return model(**params)
    except ValidationError as exc:
        return first_problem(exc, model)


def validate_params(kind: str, name: str, params: dict[str, Any]) -> BaseModel:
    """Validate ``params`` against the backend's ``Params`` model (``extra="forbid"``)."""
    parsed = parse_params(kind, name, params)
    if isinstance(parsed, str):
        raise ConfigError(f"{kind} {name!r}: {parsed}")
    return parsed


def create(kind: str, name: str, params: dict[str, Any], **context: Any) -> Any:
    """Build a component: validate its params and call ``Class(params, **context)``.

    Constructors do no I/O; models and clients load on first use.
    """
    cls = resolve(kind, name)
    return cls(validate_params(kind, name, params), **context)
