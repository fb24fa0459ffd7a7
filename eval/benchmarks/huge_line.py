"""Ingest time and peak memory for a generated one-line text file, beside a control file.

    .venv/bin/python eval/benchmarks/huge_line.py [--mb 5] [--config pipelines/local.yaml] [--repeat]

The pipeline's store moves to a temporary folder (a memory store), its chunker,
embedder and ``sources`` stay. ``--repeat`` writes one phrase over and over
(near-identical chunks, the case that broke chunk offsets) instead of random
words. Prints the command, the machine, chunks indexed, seconds, peak RSS, and
whether chunk offsets cover the text without gaps.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rag_app.config import load_config, parse_config  # noqa: E402
from rag_app.pipeline import build_pipeline  # noqa: E402

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards"]


def one_line(mb: float, repeat: bool) -> str:
    size = int(mb * 2**20)
    if repeat:
        phrase = "lorem ipsum dolor sit amet consectetur "
        return (phrase * (size // len(phrase) + 1))[:size]
    rng = random.Random(0)
    return " ".join(rng.choice(WORDS) for _ in range(size // 4))[:size]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--config", default=str(REPO / "pipelines" / "local.yaml"))
    parser.add_argument("--repeat", action="store_true", help="one phrase repeated instead of random words")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cpus = os.cpu_count()
    print(f"machine: {platform.machine()} {platform.system()}, {cpus} CPUs, python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="rag-huge-line-") as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        text = one_line(args.mb, args.repeat)
        (folder / "huge.txt").write_text(text, encoding="utf-8")
        (folder / "control.md").write_text("# Control\n\nA note about zebras and their stripes.\n", encoding="utf-8")
        base = load_config(args.config)
        data: dict[str, Any] = base.model_dump(exclude={"base_dir"})
        data["store"] = {"type": "memory", "params": {"path": str(Path(tmp) / "store")}}
        data["ingest"]["state_dir"] = str(Path(tmp) / "state")
        data["generator"] = None
        pipeline = build_pipeline(parse_config(data, base_dir=base.base_dir))
        start = time.perf_counter()
        report = pipeline.ingest([folder])
        seconds = time.perf_counter() - start
        chunks = [c for batch, _ in pipeline.store.export() for c in batch if c.source.endswith("huge.txt")]
        chunks.sort(key=lambda c: int(c.metadata["chunk_index"]))
        gaps = sum(1 for a, b in itertools.pairwise(chunks)
                   if text[a.metadata["end_char"] : b.metadata["start_char"]].strip())
        exact = all(text[c.metadata["start_char"] : c.metadata["end_char"]] == c.text for c in chunks)
        reach = chunks[-1].metadata["end_char"] if chunks else 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {len(text) / 2**20:.1f} MB on one line ({'repeated phrase' if args.repeat else 'random words'})")
    print(f"chunker: {pipeline.config.chunker.type} {pipeline.config.chunker.params}; "
          f"max_chunks_per_file {pipeline.config.sources.max_chunks_per_file}")
    print(f"indexed: {len(chunks)} chunks of huge.txt, {report.files_new} files new, {report.files_failed} failed")
    print(f"offsets: text matches {exact}, gaps {gaps}, last chunk ends at char {reach:,} of {len(text):,}")
    print(f"time: {seconds:.1f} s ingest; peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
