"""Query vectors without importing torch: the model's fp32 ONNX export, ``tokenizers`` and numpy.

Importing sentence-transformers (torch, transformers, scikit-learn) costs
several seconds of CPU before the first query can be embedded, which is most
of a cold ``rag search``. For the common model shape (Transformer, then
mean or CLS pooling, then optional normalisation: MiniLM, mpnet, bge, e5 ...)
a query needs only its tokens, one transformer pass and a pooling step, so
:class:`QueryEncoder` runs the ONNX export of ``onnx_export`` with the model's
own ``tokenizer.json``: for ``backend: onnx`` the very file that embedder
uses (fp32 or int8, the same vectors as its own path), for ``backend: torch``
the fp32 export (the torch vectors to ~1e-6, so the fingerprint is unchanged).

The export is written once, the first time the torch model is loaded anyway
(an ingest or a search before it existed): :func:`prepare`. Any other model
shape, a missing file or ``RAG_QUERY_ONNX=0`` falls back to sentence-transformers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
from pathlib import Path
from typing import Any

from rag_app.weights import DEFAULT_CACHE_DIR

logger = logging.getLogger(__name__)

ENV = "RAG_QUERY_ONNX"
_POOLING = "sentence_transformers.models.Pooling"
_SHAPES = (
    ["sentence_transformers.models.Transformer", _POOLING],
    ["sentence_transformers.models.Transformer", _POOLING, "sentence_transformers.models.Normalize"],
)


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def export_path(model_name: str, model_path: str, cache_dir: str | None, quantize: str | None = None) -> Path:
    """``onnx_export.exported_path(...)``, computed without importing torch."""
    import re

    from rag_app.backends.embedders import onnx_export

    parts = [model_path, str(onnx_export.RECIPE), quantize or "fp32", _version("torch"), _version("onnxruntime")]
    folder = Path(model_path)
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_name.strip("/"))[-80:]
    root = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser() / "onnx"
    return root / f"{safe}-{key}" / ("model-int8.onnx" if quantize == "int8" else "model.onnx")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def shape(model_path: str) -> dict[str, Any] | None:
    """What a torch-free encoder needs from the model folder, or None when its shape is not the simple one."""
    folder = Path(model_path)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        types = [m["type"] for m in sorted(modules, key=lambda m: m["idx"])]
        if types not in _SHAPES or not (folder / "tokenizer.json").is_file():
            return None
        pooling_dir = next(m["path"] for m in modules if m["type"] == _POOLING)
        pooling = json.loads((folder / pooling_dir / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        st_config_file = folder / "config_sentence_transformers.json"
        st_config = json.loads(st_config_file.read_text(encoding="utf-8")) if st_config_file.is_file() else {}
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]) or not bert.get("max_seq_length"):
        return None
    if pooling.get("include_prompt") is False:
        return None
    prompts = st_config.get("prompts") or {}
    default = st_config.get("default_prompt_name")
    return {
        "dimension": int(pooling["word_embedding_dimension"]),
        "pooling": "mean" if modes == ["pooling_mode_mean_tokens"] else "cls",
        "normalize": len(types) == 3,
        "max_seq_length": int(bert["max_seq_length"]),
        "lower_case": bool(bert.get("do_lower_case")),
        "query_prompt": prompts.get("query") or (prompts.get(default) if default else "") or "",
    }


class QueryEncoder:
    """One query at a time through the ONNX export (thread-safe: onnxruntime sessions are)."""

    def __init__(self, onnx_file: Path, model_path: str, info: dict[str, Any], *, threads: int | None,
                 max_seq_length: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_seq_length or info["max_seq_length"])
        self._info = info
        self.dimension: int = info["dimension"]

    def embed(self, text: str, *, prompt: str | None, normalize: bool) -> list[float]:
        import numpy as np

        text = (prompt if prompt is not None else self._info["query_prompt"]) + text.strip()
        if self._info["lower_case"]:
            text = text.lower()
        ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        vector = hidden.mean(axis=0) if self._info["pooling"] == "mean" else hidden[0]
        if normalize or self._info["normalize"]:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return [float(x) for x in vector]


def load(model_name: str, model_path: str, *, cache_dir: str | None, threads: int | None,
         max_seq_length: int | None, quantize: str | None = None) -> QueryEncoder | None:
    """A torch-free query encoder for this model, or None (then sentence-transformers encodes queries)."""
    if not enabled():
        return None
    info = shape(model_path)
    if info is None:
        return None
    onnx_file = export_path(model_name, model_path, cache_dir, quantize)
    if not onnx_file.is_file():
        return None
    try:
        encoder = QueryEncoder(onnx_file, model_path, info, threads=threads, max_seq_length=max_seq_length)
        logger.info("loading query encoder for %s from %s (ONNX Runtime, no torch)", model_name, onnx_file)
        return encoder
    except ImportError:
        return None
    except Exception as exc:  # a damaged export: sentence-transformers still works
        logger.warning("the ONNX query encoder %s could not be loaded (%s); using sentence-transformers",
                       onnx_file, exc)
        return None


def prepare(st_model: Any, model_name: str, model_path: str, *, cache_dir: str | None) -> None:
    """Write the fp32 export once, so later processes embed queries without torch (best effort)."""
    if not enabled() or shape(model_path) is None:
        return
    target = export_path(model_name, model_path, cache_dir)
    if target.is_file():
        return
    try:
        import onnxruntime  # noqa: F401

        from rag_app.backends.embedders import onnx_export

        onnx_export.ensure_exported(st_model, target, None)
    except Exception as exc:
        logger.info("no ONNX query encoder for %s (%s); queries use sentence-transformers", model_name, exc)
