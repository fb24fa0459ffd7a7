"""One-time ONNX export (and int8 quantization) of a sentence-transformers model, cached on disk.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which
pins ``transformers<4.58`` (this project runs transformers 5), so the export
uses torch's ONNX exporter and ``onnxruntime.quantization`` directly: only the
transformer runs in ONNX Runtime; tokenizer, pooling and normalisation stay
the model's own sentence-transformers modules.

The file lands in ``<cache_dir>/onnx/<model>-<key>/model[-int8].onnx``, where
the key hashes the model folder's weights (path, size, mtime), the torch and
onnxruntime versions and the recipe version, so new weights or a new exporter
get a new file. Writes go to a temporary name and are renamed into place, so
a killed export never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

from rag_app.weights import DEFAULT_CACHE_DIR

logger = logging.getLogger(__name__)

Quantize = Literal["int8"] | None
#: Bump when the export or quantization recipe changes (old files are then ignored).
RECIPE = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_key(model_path: str, quantize: Quantize) -> str:
    """Hash of what the exported file depends on: the weights, the tool versions, the recipe."""
    import onnxruntime
    import torch

    parts = [model_path, str(RECIPE), quantize or "fp32", torch.__version__, onnxruntime.__version__]
    folder = Path(model_path)
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]


def exported_path(model_name: str, model_path: str, quantize: Quantize, cache_dir: str | None) -> Path:
    """Where the ONNX file for this model and quantization lives (it may not exist yet)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_name.strip("/"))[-80:]
    root = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser() / "onnx"
    name = "model-int8.onnx" if quantize == "int8" else "model.onnx"
    return root / f"{safe}-{cache_key(model_path, quantize)}" / name


def ensure_exported(st_model: Any, target: Path, quantize: Quantize) -> Path:
    """Export ``st_model``'s transformer to ``target`` unless it is already there.

    Args:
        st_model: A loaded ``SentenceTransformer`` (torch) whose first module is a Transformer.
        target: From :func:`exported_path`.
        quantize: ``"int8"``: dynamic int8 quantization of the weight MatMuls, per channel.

    Returns:
        ``target``, now present.
    """
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        logger.info("exporting %s to ONNX (once; cached in %s)", type(st_model[0]).__name__, target.parent)
        _export(st_model, fp32)
        final = fp32
        if quantize == "int8":
            final = Path(tmp) / "model-int8.onnx"
            _quantize_int8(fp32, final)
        os.replace(final, target)
    return target


def _export(st_model: Any, out: Path) -> None:
    import torch

    transformer = st_model[0].auto_model

    class _Hidden(torch.nn.Module):  # keyword call: transformers 5 reordered forward()'s positional args
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    enc = st_model.tokenizer(["an example", "a slightly longer example text"], padding=True, return_tensors="pt")
    if "token_type_ids" not in enc:
        enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python bools in the mask code: shapes stay dynamic
        torch.onnx.export(
            _Hidden(transformer).eval(),
            tuple(enc[name] for name in _INPUTS),
            str(out),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantize_int8(src: Path, dst: Path) -> None:
    """Per-channel int8 weights for the weight MatMuls only (activation x activation stays fp32).

    Per-tensor scales or quantized attention products cost ~6 points of cosine to the fp32
    vectors on MiniLM; this recipe keeps ~0.995 mean cosine at ~2x the fp32 speed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    advice = _DropAdvice()
    root.addFilter(advice)  # onnxruntime logs a static-quantization hint on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, extra_options={"MatMulConstBOnly": True}
        )
    finally:
        root.removeFilter(advice)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()
