"""Ingest benchmark: rag_app vs the LangChain way of doing the same job, in one run.

Both sides ingest ``data/corpus`` into a fresh Milvus Lite file with the same
all-MiniLM-L6-v2 weights, 200-token chunks with 30 tokens of overlap, and
the same extracted text (rag_app's loaders feed both, so loading is not what
is compared). Then both re-ingest the unchanged corpus:

* rag_app: ``Pipeline.ingest`` (sync manifest: per-file content hashes).
* LangChain: ``RecursiveCharacterTextSplitter.from_huggingface_tokenizer`` +
  ``HuggingFaceEmbeddings`` + ``langchain_milvus.Milvus``, driven by
  ``langchain_core.indexing.index`` with an ``InMemoryRecordManager`` and
  ``cleanup="incremental"`` — LangChain's own incremental-ingest API.

Run (installs the LangChain packages the comparison needs; ``--no-deps``
because langchain-huggingface pins huggingface-hub below the 2.x that
transformers 5 here uses, and works with it)::

    make bench-ingest
    # = pip install --no-deps langchain-huggingface langchain-milvus
    #   python eval/benchmarks/ingest_vs_langchain.py [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "data" / "corpus"
CHUNK, OVERLAP = 200, 30


def rag_app_side(tmp: Path, threads: int) -> dict[str, float]:
    from rag_app.config import load_config, parse_config
    from rag_app.pipeline import build_pipeline

    base = load_config(REPO / "pipelines" / "local.yaml")
    data: dict[str, Any] = base.model_dump(exclude={"base_dir"})
    data["chunker"] = {"type": "recursive", "params": {"chunk_size": CHUNK, "chunk_overlap": OVERLAP}}
    data["embedder"]["params"]["threads"] = threads
    data["store"]["params"]["uri"] = str(tmp / "rag_app.db")
    data["ingest"]["state_dir"] = str(tmp / "state")
    pipeline = build_pipeline(parse_config(data, base_dir=base.base_dir))
    pipeline.embedder.embed_query("warm up")  # model load is not part of the comparison
    t0 = time.perf_counter()
    first = pipeline.ingest([CORPUS])
    t1 = time.perf_counter()
    second = pipeline.ingest([CORPUS])
    t2 = time.perf_counter()
    pipeline.close()
    return {
        "ingest_s": t1 - t0,
        "reingest_s": t2 - t1,
        "chunks": float(first.chunks_added),
        "reembedded": float(second.embeddings_computed),
    }


def load_texts() -> list[tuple[str, str, dict[str, Any]]]:
    """(source, text, metadata) for every part of every corpus file, via rag_app's loaders."""
    from rag_app.config import DEFAULT_LOADERS
    from rag_app.registry import create

    out = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        loader = create("loader", DEFAULT_LOADERS[path.suffix], {})
        for doc in loader.load(path, source=path.as_posix(), doc_id="x"):
            meta = {"source": path.as_posix(), "page": int(doc.metadata.get("page", 0))}
            out.append((path.as_posix(), doc.text, meta))
    return out


def langchain_side(tmp: Path, threads: int) -> dict[str, float]:
    import torch
    from langchain_core.documents import Document
    from langchain_core.indexing import InMemoryRecordManager, index
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_milvus import Milvus
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from transformers import AutoTokenizer

    from rag_app.models import resolve_model

    torch.set_num_threads(threads)
    model = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    embeddings = HuggingFaceEmbeddings(
        model_name=model, encode_kwargs={"normalize_embeddings": True, "batch_size": 32}
    )
    embeddings.embed_query("warm up")
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        AutoTokenizer.from_pretrained(model), chunk_size=CHUNK, chunk_overlap=OVERLAP
    )
    store = Milvus(
        embedding_function=embeddings,
        connection_args={"uri": str(tmp / "langchain.db")},
        collection_name="bench",
        auto_id=False,
    )
    records = InMemoryRecordManager(namespace="milvus/bench")
    records.create_schema()

    def run() -> dict[str, int]:
        texts = load_texts()
        docs = [Document(page_content=t, metadata=m) for _, t, m in texts]
        chunks = splitter.split_documents(docs)
        return index(chunks, records, store, cleanup="incremental", source_id_key="source", batch_size=64)

    t0 = time.perf_counter()
    first = run()
    t1 = time.perf_counter()
    second = run()
    t2 = time.perf_counter()
    return {
        "ingest_s": t1 - t0,
        "reingest_s": t2 - t1,
        "chunks": float(first["num_added"]),
        "reembedded": float(second["num_added"] + second["num_updated"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        ours = rag_app_side(Path(tmp), args.threads)
        peer = langchain_side(Path(tmp), args.threads)
    print(f"{'':22}{'rag_app':>12}{'LangChain':>12}{'ratio':>10}")
    for key, label in (("ingest_s", "first ingest (s)"), ("reingest_s", "unchanged re-ingest (s)")):
        print(f"{label:22}{ours[key]:12.2f}{peer[key]:12.2f}{peer[key] / ours[key]:9.1f}x")
    print(f"{'chunks':22}{ours['chunks']:12.0f}{peer['chunks']:12.0f}")
    print(f"{'re-embedded on re-run':22}{ours['reembedded']:12.0f}{peer['reembedded']:12.0f}")
    print(f"{'chunks/s':22}{ours['chunks'] / ours['ingest_s']:12.1f}{peer['chunks'] / peer['ingest_s']:12.1f}")
    print("ratio = LangChain time / rag_app time (higher means rag_app is faster)")


if __name__ == "__main__":
    main()
