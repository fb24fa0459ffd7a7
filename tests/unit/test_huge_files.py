"""One huge file must not stall a batch or get wrong offsets.

The speed itself is tracked by eval/benchmarks/huge_line.py (real MiniLM tokenizer
and embedder); here the bound is loose, only to catch a return to minutes.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.backends.chunkers._bounds import splitter_text
from rag_app.backends.embedders.hashing import WordTokenizer
from rag_app.config import PipelineConfig
from rag_app.ingest.bounds import cut_documents
from rag_app.ingest.manifest import Manifest
from rag_app.pipeline import build_pipeline
from rag_app.types import Chunk, Document

MakeConfig = Callable[..., PipelineConfig]
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards"]
PHRASE = "lorem ipsum dolor sit amet consectetur "
CHUNKERS = ["recursive", "markdown", "sentence", "fixed"]


def random_line(size: int) -> str:
    rng = random.Random(0)
    return " ".join(rng.choice(WORDS) for _ in range(size // 4))[:size]


def assert_tiles(text: str, chunks: list[Chunk]) -> None:
    """Each chunk's text is the original at its offsets; in order, no gaps, from start to end."""
    assert chunks
    spans = [(int(c.metadata["start_char"]), int(c.metadata["end_char"])) for c in chunks]
    assert all(text[a:b] == c.text for (a, b), c in zip(spans, chunks, strict=True))
    assert not text[: spans[0][0]].strip() and not text[spans[-1][1] :].strip()
    for (a0, b0), (a1, _) in itertools.pairwise(spans):
        assert a1 > a0, "chunks go backwards"
        assert not text[b0:a1].strip(), f"text between {b0} and {a1} is in no chunk"


def split(kind: str, text: str, **params: int) -> list[Chunk]:
    sizes = {"chunk_size": 60, "chunk_overlap": 10, **params}
    chunker = registry.create("chunker", kind, sizes, tokenizer=WordTokenizer())
    return chunker.split([Document("d", "s", text, {})])  # type: ignore[no-any-return]


def test_five_megabyte_line_is_capped_and_the_batch_goes_on(
    make_config: MakeConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = random_line(5 * 2**20)
    (docs / "huge.txt").write_text(text, encoding="utf-8")
    (docs / "zebra.md").write_text("# Zebra\n\nA control note about zebras and their stripes.\n", encoding="utf-8")
    config = make_config(
        chunker={"type": "markdown", "params": {"chunk_size": 200, "chunk_overlap": 30}},
        sources={"max_chunks_per_file": 300},
    )
    pipeline = build_pipeline(config)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="rag_app"):
        report = pipeline.ingest([docs])
    seconds = time.perf_counter() - start
    assert seconds < 60, f"{seconds:.0f} s for one 5 MB line (the benchmark takes ~2 s)"
    assert (report.files_new, report.files_failed) == (2, 0)
    warnings = [r.getMessage() for r in caplog.records if "max_chunks_per_file" in r.getMessage()]
    assert warnings == [
        "huge.txt: only its first 300 chunks are indexed (sources.max_chunks_per_file is 300); "
        "raise it or split the file"
    ]
    huge = sorted((c for b, _ in pipeline.store.export() for c in b if c.source.endswith("huge.txt")),
                  key=lambda c: int(c.metadata["chunk_index"]))
    assert len(huge) == 300
    assert_tiles(text[: huge[-1].metadata["end_char"]], huge)
    assert pipeline.search("zebras stripes", top_k=1)[0].chunk.source.endswith("zebra.md")
    entry = Manifest.load(pipeline.manifest_path()).sources[(docs / "huge.txt").resolve().as_posix()]
    assert entry.truncated_at == 300

    assert pipeline.ingest([docs]).files_unchanged == 2  # same cap: nothing to redo
    raised = build_pipeline(make_config(chunker=config.chunker.model_dump(), sources={"max_chunks_per_file": 400}))
    again = raised.ingest([docs])
    assert (again.files_changed, again.files_unchanged, again.chunks_added) == (1, 1, 400)


@pytest.mark.parametrize("kind", CHUNKERS)
def test_repeated_text_gets_true_offsets(kind: str) -> None:
    """One phrase over and over: every piece also matches one phrase earlier, which is not where it is."""
    text = PHRASE * 2_000  # 78 kB, one line
    assert_tiles(text, split(kind, text))


@pytest.mark.parametrize("kind", ["recursive", "markdown"])
def test_repeated_lines_get_true_offsets(kind: str) -> None:
    """A log-like file of one repeated line: the overlap is whole lines, found where the splitter cut."""
    text = "INFO worker heartbeat ok\n" * 400
    chunks = split(kind, text)
    assert_tiles(text, chunks)
    assert all(c.text.startswith("INFO") for c in chunks)


@pytest.mark.parametrize("kind", CHUNKERS)
def test_a_megabyte_without_whitespace_makes_bounded_chunks(kind: str) -> None:
    text = "x" * 2**20
    start = time.perf_counter()
    chunks = split(kind, text, chunk_size=200, chunk_overlap=0)
    assert time.perf_counter() - start < 30
    assert_tiles(text, chunks)
    assert max(len(c.text) for c in chunks) <= 200 * 32  # no token counts as more than 32 characters


def test_ordinary_text_reaches_the_splitter_unchanged() -> None:
    prose = "\n\n".join(random_line(3_000) for _ in range(5))
    assert splitter_text(prose, 200) is prose
    wrapped = splitter_text(random_line(100_000), 200)
    assert max(len(line) for line in wrapped.split("\n")) <= 400
    assert wrapped.replace("\n", " ") == random_line(100_000)  # only whitespace changed


def test_documents_are_cut_after_the_token_budget() -> None:
    pages = [Document("d", "s", random_line(200_000), {"page": n}) for n in (1, 2, 3)]
    kept, cut = cut_documents(pages, WordTokenizer(), 60_000)
    assert cut and [d.metadata["page"] for d in kept] == [1, 2]
    assert WordTokenizer().count(kept[0].text) + WordTokenizer().count(kept[1].text) == 60_000
    small = [Document("d", "s", "a short page", {})]
    assert cut_documents(small, WordTokenizer(), 60_000) == (small, False)
