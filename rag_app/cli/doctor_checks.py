"""The generator and BM25 checks of ``rag doctor`` (each returns a detail line or raises)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_app import registry
from rag_app.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline

_OPENAI_URL = "https://api.openai.com/v1"


def generator(pipeline: Pipeline) -> str:
    """The configured generator can be used here: model files present and loadable, or the API reachable."""
    spec = pipeline.config.generator
    if spec is None or pipeline.generator is None:
        return "none configured: rag search works, rag ask needs a generator: block"
    params: Any = registry.validate_params("generator", spec.type, spec.params)
    if spec.type == "llama_cpp":
        return _llama_cpp(params, pipeline.config.base_dir)
    if spec.type == "openai":
        return _openai(params)
    from rag_app.types import Message

    pipeline.generator.generate([Message("user", "Reply with OK.")], max_tokens=1)  # loads the model
    name = pipeline.generator.name
    return f"{spec.type}{'' if name == spec.type else f' ({name})'}: loads and generates"


def _llama_cpp(params: Any, base_dir: Path) -> str:
    """The GGUF file is on this machine (a packaged model: all its parts installed); nothing is joined or loaded."""
    from rag_app.errors import MissingDependencyError
    from rag_app.weights import gguf

    try:
        import xllamacpp
    except ImportError as exc:
        raise MissingDependencyError("xllamacpp", "llama", "generator 'llama_cpp'") from exc
    build = llama_build_note(xllamacpp.get_system_info(), cpu_flags())
    spec = gguf.find_packaged(params.model, params.gguf_file)
    if spec is None:
        path = gguf.resolve_gguf(params.model, params.gguf_file, base_dir=base_dir, cache_dir=params.cache_dir)
        return f"llama_cpp: GGUF file {path}; {build}"
    target = Path(params.cache_dir).expanduser() / spec.filename
    if gguf.is_verified(target, spec.size, spec.sha256):
        return f"llama_cpp: {spec.hub_id}, packaged GGUF at {target}; {build}"
    parts = spec.part_paths()  # MissingPartError names the pip command
    return (f"llama_cpp: {spec.hub_id}, {len(parts)} packaged parts installed (joined into {target} on first use); "
            f"{build}")


def llama_build_note(system_info: str, flags: frozenset[str]) -> str:
    """Which x86 vector extensions the installed llama.cpp uses, and whether a native build would be faster.

    ``system_info`` is llama.cpp's ``get_system_info()`` ("AVX2 = 1 | ... | AVX512 = 1 | ..."). The
    prebuilt wheel is an AVX2 build; on a CPU with AVX-512, ``make native-llm`` read a 686-token
    prompt 1.7x faster (eval/benchmarks/llama_cpp_speed.py).
    """
    if "AVX512 = 1" in system_info:
        return "llama.cpp built for AVX-512"
    if "avx512f" in flags:
        return "llama.cpp built for AVX2 on an AVX-512 CPU: `make native-llm` reads prompts ~1.7x faster"
    return "llama.cpp built for AVX2" if "AVX2 = 1" in system_info else "llama.cpp built without AVX2"


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _openai(params: Any) -> str:
    """The API key is set and ``GET /models`` answers (free: no tokens are generated)."""
    from rag_app.backends._openai_client import api_key

    key = api_key(params.api_key_env, params.base_url)
    base = (params.base_url or _OPENAI_URL).rstrip("/")
    request = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {key}"})
    handlers = [urllib.request.ProxyHandler({})] if _is_loopback(base) else []  # loopback: never a proxy
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=min(params.timeout_s, 10.0)) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ConfigError(f"{base}/models answered HTTP {exc.code}; check ${params.api_key_env}") from exc
        raise BackendError(f"{base}/models answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        fix = "start the server or fix generator.params.base_url"
        raise BackendError(f"cannot reach {base} ({reason}); {fix}") from exc
    return f"openai: {params.model} at {base} (HTTP {status}; no tokens generated)"


def _is_loopback(url: str) -> bool:
    return any(host in url for host in ("://127.0.0.1", "://localhost", "://[::1]"))


def bm25(pipeline: Pipeline) -> str:
    """Each secondary index matches the store: same generation, no interrupted run, same size.

    ``rag ingest`` (or any query) rebuilds one that drifted; this check only reports.
    """
    from rag_app.protocols import IndexListener

    drifted = pipeline.index_drift()
    if drifted:
        raise BackendError(f"{'; '.join(drifted)}; run rag ingest to rebuild it from the store")
    details = []
    for spec, retriever in zip(pipeline.config.retrieval.retrievers, pipeline.retrievers, strict=True):
        if spec.type == "milvus_bm25":
            details.append("milvus_bm25: computed inside Milvus (full_text)")
        elif isinstance(retriever, IndexListener) and spec.type != "dense":
            size = retriever.size()
            state = f"{size} chunks indexed, in step with the store" if size else "empty, nothing ingested yet"
            details.append(f"{spec.type}: {state}")
    return "; ".join(details) or "no sparse retriever configured (dense only)"
