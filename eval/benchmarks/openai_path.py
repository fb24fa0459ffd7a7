"""pipelines/openai.yaml proven with a real model: the answer suite over an OpenAI-compatible server.

Starts the packaged Qwen2.5-Coder-1.5B GGUF (local.yaml's generator) in llama.cpp's own
OpenAI-compatible server (the one the ``llama_cpp`` generator embeds, on 127.0.0.1 with a random
API key), points ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` at it and runs
``eval/suites/answers-openai.yaml``, so the whole hosted path (openai SDK, streaming, the judge's
logprobs, citation checks) runs against a real model.

    .venv/bin/python eval/benchmarks/openai_path.py [--model HUB_ID_OR_GGUF] [--limit N]

Prints the command, the machine and the figures; the report lands in eval/reports/.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.backends.generators.llama_cpp import LlamaCppGenerator  # noqa: E402
from rag_app.evaluation.harness import run_eval  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", help="served GGUF (default: local.yaml's)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of the sample")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    server = LlamaCppGenerator(LlamaCppGenerator.Params(model=args.model, threads=1, threads_batch=2))
    base_url, key = server.endpoint()
    print(f"server: llama.cpp OpenAI-compatible API at {base_url} serving {args.model}")
    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=key, OPENAI_MODEL=Path(args.model).name)
    result = run_eval(
        REPO / "eval" / "suites" / "answers-openai.yaml",
        reports_dir=REPO / "eval" / "reports",
        cache_dir=REPO / "eval" / ".cache",
        limit=args.limit,
        command=" ".join(sys.argv),
    )
    for label, pipeline in result.data["pipelines"].items():
        print(label, " ".join(f"{k}={v:.3f}" for k, v in sorted(pipeline["metrics"].items())))
    for gate in result.gates:
        print(gate.line())
    print("report:", result.report_dir)
    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
