"""Encoding with ONNX Runtime: length-sorted batches, optional concurrent batches.

The transformer runs in an ``onnxruntime.InferenceSession`` (see
``onnx_export``); the model's own sentence-transformers modules after it
(pooling, normalisation) turn its token states into sentence vectors, so any
pooling the model declares is honoured.

Texts are tokenized once, sorted by token count and cut into batches of
similar length, so little of each batch is padding; :class:`TokenStats`
counts real and padded tokens to show it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class TokenStats:
    """Tokens fed to the model: ``real`` ones and the ``padded`` total (real + padding)."""

    real: int = 0
    padded: int = 0

    @property
    def waste(self) -> float:
        """Share of the computed positions that were padding."""
        return 1.0 - self.real / self.padded if self.padded else 0.0


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches of similar length (longest first)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class OnnxEncoder:
    """Sentence vectors from an exported ONNX transformer plus the model's pooling modules."""

    def __init__(self, st_model: Any, onnx_path: Path, *, threads: int | None, workers: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default (all cores)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = st_model.tokenizer
        self._max_len = int(st_model.max_seq_length or 512)
        self._post = list(st_model)[1:]  # Pooling, Normalize ...
        self._workers = workers
        self._lock = threading.Lock()
        self.stats = TokenStats()

    def encode(self, texts: Sequence[str], *, batch_size: int, normalize: bool) -> np.ndarray:
        """One float32 row per text, in the order given."""
        ids: list[list[int]] = self._tokenizer(
            [t.strip() for t in texts], truncation=True, max_length=self._max_len
        )["input_ids"]
        batches = length_sorted_batches([len(x) for x in ids], batch_size)
        out: np.ndarray | None = None

        def run(batch: list[int]) -> tuple[list[int], np.ndarray]:
            return batch, self._batch([ids[i] for i in batch])

        if self._workers > 1 and len(batches) > 1:
            with ThreadPoolExecutor(self._workers) as pool:  # onnxruntime releases the GIL in run()
                results = list(pool.map(run, batches))
        else:
            results = [run(b) for b in batches]
        for batch, vectors in results:
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        assert out is not None
        if normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.clip(norms, 1e-12, None)
        return out

    def _batch(self, rows: list[list[int]]) -> np.ndarray:
        import torch

        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), self._tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for n, row in enumerate(rows):
            input_ids[n, : len(row)] = row
            mask[n, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        with self._lock:
            self.stats.real += int(mask.sum())
            self.stats.padded += int(mask.size)
        features: dict[str, Any] = {
            "token_embeddings": torch.from_numpy(hidden),
            "attention_mask": torch.from_numpy(mask),
            "input_ids": torch.from_numpy(input_ids),
        }
        with torch.no_grad():
            for module in self._post:
                features = module(features)
        return np.asarray(features["sentence_embedding"].numpy(), dtype=np.float32)
