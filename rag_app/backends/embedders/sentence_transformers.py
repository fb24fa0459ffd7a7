"""Local embeddings with sentence-transformers (any local folder or hub id).

``backend: torch`` (the default) runs the model as sentence-transformers loads
it. ``backend: onnx`` exports the transformer once to ONNX (cached under
``cache_dir``, see ``onnx_export``) and runs it in ONNX Runtime with
length-sorted batches; ``quantize: int8`` adds dynamic int8 quantization
(about 2x faster again on CPU). fp32 ONNX gives the torch vectors to ~1e-6,
so it keeps the embedder's name (and a collection's fingerprint); int8 vectors
differ (mean cosine ~0.995 to fp32), so ``name`` gets a ``+onnx-int8`` suffix
and an index built one way is never queried the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag_app.backends.embedders import query_onnx
from rag_app.backends.embedders.hf_tokenizer import HFTokenCounter
from rag_app.backends.embedders.onnx_encoder import OnnxEncoder, TokenStats
from rag_app.errors import BackendError, ConfigError, MissingDependencyError
from rag_app.weights import load_error_message, load_sentence_transformers, resolve_model

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Wraps ``SentenceTransformer`` with the query/document split of ST 5+."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = "sentence-transformers/all-MiniLM-L6-v2"
        batch_size: int = Field(default=32, gt=0)
        normalize: bool = True
        device: str = "cpu"
        threads: int | None = Field(
            default=None, gt=0, description="torch intra-op threads (process-wide); None keeps torch's default"
        )
        query_prompt: str | None = Field(default=None, description="e.g. 'query: ' for e5 models")
        document_prompt: str | None = None
        max_seq_length: int | None = Field(default=None, gt=0)
        backend: Literal["torch", "onnx"] = Field(
            default="torch", description="torch; or onnx: exported once, run by onnxruntime"
        )
        quantize: Literal["int8"] | None = Field(
            default=None, description="int8: dynamic int8 weights (backend onnx only; changes the fingerprint)"
        )
        workers: int = Field(
            default=1, gt=0, le=64, description="batches encoded concurrently (backend onnx; threads each)"
        )
        cache_dir: str | None = Field(default=None, description="where exported models go (~/.cache/rag_app/models)")

        @model_validator(mode="after")
        def _backend_options(self) -> SentenceTransformerEmbedder.Params:
            if self.backend == "torch" and (self.quantize is not None or self.workers != 1):
                raise ValueError("quantize and workers need backend: onnx (torch runs one fp32 batch at a time)")
            return self

    def __init__(
        self, params: Params, *, base_dir: Path | None = None, light_queries: bool = True, **_: object
    ) -> None:
        """``light_queries``: export the model once so later processes embed queries without torch."""
        self._params = params
        self._base_dir = base_dir
        self._light_queries = light_queries
        self._model: Any = None
        self._onnx: OnnxEncoder | None = None
        self._tokenizer: HFTokenCounter | None = None
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._light: Any = None  # query_onnx.QueryEncoder, False once known unavailable

    @property
    def name(self) -> str:
        """The model, plus ``+onnx-int8`` when quantized (its vectors differ from the fp32 ones)."""
        p = self._params
        return f"{p.model}+onnx-int8" if p.quantize == "int8" else p.model

    def token_stats(self) -> TokenStats | None:
        """Real vs padded tokens encoded so far (backend onnx; None for torch)."""
        return self._onnx.stats if self._onnx is not None else None

    @property
    def normalized(self) -> bool:
        return self._params.normalize

    @property
    def dimension(self) -> int:
        if self._dim is None:
            light = self._light_query_encoder()
            self._dim = light.dimension if light else int(self._load().get_embedding_dimension())
        return self._dim

    def tokenizer(self) -> HFTokenCounter:
        """A tokenizer of its own, never the encoder's: chunking runs on one thread while batches are
        encoded on another (ingestion, the server), and a Rust fast tokenizer used from two threads at
        once fails with "Already borrowed". It is also much cheaper to load than the model."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            path = resolve_model(self._params.model, self._base_dir)
            try:
                self._tokenizer = HFTokenCounter(AutoTokenizer.from_pretrained(path))
            except (OSError, ValueError) as exc:
                raise BackendError(load_error_message("embedding", self._params.model, exc)) from exc
        return self._tokenizer

    def prepare_documents(self) -> None:
        """Load the document encoder now (ingestion calls this in the background while files load)."""
        self._load()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts), self._load().encode_document, self._params.document_prompt)

    def embed_query(self, text: str) -> list[float]:
        if self._model is None and (light := self._light_query_encoder()):
            vector: list[float] = light.embed(text, prompt=self._params.query_prompt, normalize=self._params.normalize)
            return vector
        return self._encode([text], self._load().encode_query, self._params.query_prompt)[0]

    def _encode(self, texts: list[str], fn: Any, prompt: str | None) -> list[list[float]]:
        kwargs: dict[str, Any] = {
            "batch_size": self._params.batch_size,
            "normalize_embeddings": self._params.normalize,
            "convert_to_numpy": True,
            "show_progress_bar": False,
        }
        if self._onnx is not None:
            if prompt is not None:
                texts = [prompt + t for t in texts]
            vectors = self._onnx.encode(texts, batch_size=self._params.batch_size, normalize=self._params.normalize)
            return [[float(x) for x in row] for row in vectors.tolist()]
        if prompt is not None:
            kwargs["prompt"] = prompt
        vectors = fn(texts, **kwargs)
        return [[float(x) for x in row] for row in vectors.tolist()]

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                p = self._params
                if p.backend == "onnx":
                    _require_onnx()  # before the model loads: a missing package is a one-line fix
                model = load_sentence_transformers(
                    "SentenceTransformer", p.model, what="embedding", base_dir=self._base_dir,
                    threads=p.threads, device=p.device,
                )
                if p.max_seq_length:
                    model.max_seq_length = p.max_seq_length
                if p.backend == "onnx":
                    self._onnx = self._onnx_encoder(model)
                elif p.device == "cpu" and self._light_queries:  # once: later processes skip torch for queries
                    query_onnx.prepare(model, p.model, resolve_model(p.model, self._base_dir), cache_dir=p.cache_dir)
                self._model = model
        return self._model

    def _light_query_encoder(self) -> Any:
        """The torch-free query encoder (``query_onnx``) of this CPU model's ONNX export, or None."""
        p = self._params
        if self._light is None:
            self._light = False
            if p.device == "cpu" and self._light_queries:
                path = resolve_model(p.model, self._base_dir)
                self._light = query_onnx.load(
                    p.model, path, cache_dir=p.cache_dir, threads=p.threads, max_seq_length=p.max_seq_length,
                    quantize=p.quantize if p.backend == "onnx" else None,
                ) or False
        return self._light or None

    def _onnx_encoder(self, model: Any) -> OnnxEncoder:
        from rag_app.backends.embedders import onnx_export

        p = self._params
        if model[0].__class__.__name__ != "Transformer":
            raise ConfigError(f"backend onnx: {p.model} does not start with a Transformer module; use backend: torch")
        path = resolve_model(p.model, self._base_dir)
        target = onnx_export.exported_path(p.model, path, p.quantize, p.cache_dir)
        try:
            onnx_export.ensure_exported(model, target, p.quantize)
        except OSError as exc:
            raise BackendError(f"cannot write the ONNX export of {p.model} to {target.parent} ({exc})") from exc
        return OnnxEncoder(model, target, threads=p.threads, workers=p.workers)


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401  (the exporter and the quantizer need it)
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "onnxruntime", "onnx", "embedder backend 'onnx'") from exc
