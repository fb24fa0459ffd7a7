"""llama.cpp generator speed: load time, prompt and decode tokens/s, and prefix-cache time to first token.

For each packaged model (Qwen2.5-Coder 0.5B and, if its 22 part packages are
installed, 1.5B, both Q4_K_M) and each ``threads`` x ``threads_batch`` setting,
a fresh ``LlamaCppGenerator`` is loaded and, ``--reps`` times:

* cold: a ~700-token RAG-style prompt (system prompt + numbered corpus
  sources + question) that starts with a new nonce, so nothing is cached,
  streamed; time to the first text piece, and llama.cpp's prompt tokens/s;
* warm: the same prompt with a different last line (~30 new tokens): time to
  the first piece with the shared prefix served from the KV cache;
* decode: 64 greedy tokens after the warm prompt, llama.cpp's decode tokens/s.

Figures are medians over the repetitions. This is a shared, noisy 2-core
machine: the load average is printed with every row, so rows measured while
something else ran can be told apart.

Run::

    python eval/benchmarks/llama_cpp_speed.py [--reps 3] [--models 0.5b,1.5b] [--configs 1x1,1x2,2x1,2x2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.backends.generators.llama_cpp import LlamaCppGenerator  # noqa: E402
from rag_app.backends.generators.stops import drain  # noqa: E402
from rag_app.types import GenerationResult, Message  # noqa: E402
from rag_app.weights.gguf import QWEN_05B, QWEN_15B, PackagedGGUF  # noqa: E402
from tests.support.rag_prompt import rag_messages  # noqa: E402

MODELS = {"0.5b": QWEN_05B, "1.5b": QWEN_15B}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def installed(spec: PackagedGGUF) -> bool:
    return all(importlib.util.find_spec(f"{spec.module}{i}") is not None for i in range(1, spec.parts + 1))


def rag_prompt(gen: LlamaCppGenerator, nonce: str, question: str, tokens: int = 660) -> list[Message]:
    return rag_messages(gen, question, nonce=nonce, tokens=tokens)


def ttft(gen: LlamaCppGenerator, messages: list[Message]) -> tuple[float, GenerationResult]:
    started = time.perf_counter()
    stream: Any = gen.stream(messages, max_tokens=4)
    next(stream)
    elapsed = time.perf_counter() - started
    _, result = drain(stream)  # the rest of the 4 tokens, so the usage arrives
    assert result is not None
    return elapsed, result


def measure(spec: PackagedGGUF, threads: int, threads_batch: int, reps: int) -> dict[str, float]:
    gen = LlamaCppGenerator(LlamaCppGenerator.Params(model=spec.hub_id, threads=threads, threads_batch=threads_batch))
    started = time.perf_counter()
    gen._load()  # the joined file is cached; this is llama.cpp's load (mmap + warm-up)
    load_s = time.perf_counter() - started
    rows: dict[str, list[float]] = {k: [] for k in ("cold", "warm", "pp", "tg", "prompt", "cached")}
    for _ in range(reps):
        nonce = f"Session {uuid.uuid4().hex[:8]}. "
        cold, result = ttft(gen, rag_prompt(gen, nonce, "What does a KV cache store? Answer in one sentence."))
        rows["cold"].append(cold)
        rows["prompt"].append(result.prompt_tokens)
        new_tokens = result.prompt_tokens - result.details["cached_tokens"]
        rows["pp"].append(new_tokens / (result.details["prompt_ms"] / 1000))
        warm_messages = rag_prompt(gen, nonce, "Who proposed LoRA, and what does it train? Cite the source.")
        warm, result = ttft(gen, warm_messages)
        rows["warm"].append(warm)
        rows["cached"].append(result.details["cached_tokens"])
        long = [*warm_messages[:-1], Message("user", "Explain every source above in detail, one paragraph each.")]
        result = gen.generate(long, max_tokens=64)
        rows["tg"].append(result.completion_tokens / (result.details["predicted_ms"] / 1000))
    gen.close()
    out = {k: statistics.median(v) for k, v in rows.items()}
    out["load"] = load_s
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--models", default="0.5b,1.5b")
    parser.add_argument("--configs", default="1x1,1x2,2x1,2x2", help="threads x threads_batch")
    args = parser.parse_args()
    import xllamacpp

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}, python {platform.python_version()}")
    print(f"xllamacpp {xllamacpp.__version__}; medians of {args.reps} repetitions; load average before each row")
    header = (
        f"{'model':6} {'thr':>3} {'batch':>5} {'load s':>6} {'prompt':>6} {'pp tok/s':>8} {'tg tok/s':>8} "
        f"{'TTFT cold s':>11} {'TTFT warm s':>11} {'cached':>6} {'loadavg':>7}"
    )
    print(header)
    for key in args.models.split(","):
        spec = MODELS[key]
        if not installed(spec):
            print(f"{key}: not installed ({spec.pip_command()})")
            continue
        for config in args.configs.split(","):
            threads, threads_batch = (int(n) for n in config.split("x"))
            load_avg = os.getloadavg()[0]
            r = measure(spec, threads, threads_batch, args.reps)
            print(
                f"{key:6} {threads:>3} {threads_batch:>5} {r['load']:>6.2f} {r['prompt']:>6.0f} {r['pp']:>8.1f} "
                f"{r['tg']:>8.1f} {r['cold']:>11.2f} {r['warm']:>11.2f} {r['cached']:>6.0f} {load_avg:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
