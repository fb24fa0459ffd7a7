"""Ingest speed: rag_app vs LangChain vs LlamaIndex, same weights and chunk sizes, in one run.

Every side ingests the same corpora into a fresh store with the same
all-MiniLM-L6-v2 weights and 200-token chunks with 30 tokens of overlap
(measured in MiniLM's own tokenizer), then re-ingests the unchanged corpus.
rag_app's loaders extract the text for all three (timed inside every run), so
loading is not what is compared; model load happens before the clock starts.

* rag_app: ``Pipeline.ingest`` with ``pipelines/local.yaml``'s embedder (its
  backend / quantization / threads), Milvus Lite, sync manifest.
* LangChain: ``RecursiveCharacterTextSplitter.from_huggingface_tokenizer`` +
  ``HuggingFaceEmbeddings`` + ``langchain_milvus.Milvus`` (Milvus Lite), driven
  by ``langchain_core.indexing.index`` (``InMemoryRecordManager``,
  ``cleanup="incremental"``).
* LlamaIndex: ``SentenceSplitter`` (MiniLM tokenizer) + ``HuggingFaceEmbedding``
  in an ``IngestionPipeline`` with a ``SimpleDocumentStore`` (re-ingest
  de-duplication) and the in-memory ``SimpleVectorStore``.

And the encoder alone against fastembed (Qdrant's ONNX embedding library), on
the same chunk texts (LangChain's split above): rag_app's embedder vs
``fastembed.TextEmbedding`` running the same all-MiniLM-L6-v2 weights, once as the
fp32 ONNX file fastembed ships for this model (here rag_app's fp32 export, which
gives the torch vectors) and once as rag_app's int8 export, so the batching is
compared apart from the quantization. Skipped when fastembed is not installed.

Corpora: ``data/corpus`` (34 files: md, txt, pdf, docx, html) and the first
2,000 SciFact abstracts, written as one ``.txt`` file each (title, blank line,
text). ``--quality`` also runs the SciFact quality guard
(``eval/suites/scifact-onnx.yaml``: nDCG@10 of the dense pipeline with
local.yaml's embedder within 0.005 of fp32 torch's 0.6451).

Run::

    make bench-ingest
    # = pip install --no-deps langchain-huggingface langchain-milvus llama-index-embeddings-huggingface fastembed
    #   pip install loguru mmh3 py-rust-stemmers   (fastembed's own dependencies)
    #   python eval/benchmarks/ingest_speed.py --quality
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HANDBOOK = REPO / "data" / "corpus"
SCIFACT = Path(os.environ.get("RAG_SCIFACT_DIR", REPO.parent / "shared" / "datasets" / "scifact"))
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHUNK, OVERLAP = 200, 30
TORCH_NDCG10 = 0.6451  # fp32 torch MiniLM on SciFact test (MTEB; eval/suites/scifact.yaml reproduces it)


@dataclass
class Side:
    """One framework's figures on one corpus."""

    ingest_s: float
    reingest_s: float
    chunks: int
    reembedded: int
    cpu_s: float = 0.0
    """CPU seconds of this process during the first ingest: less at the mercy of other work on the machine."""


def write_scifact(folder: Path, limit: int) -> Path:
    """The first ``limit`` SciFact abstracts as ``<id>.txt`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= limit:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    return folder


def load_texts(corpus: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(source, text, metadata) for every part of every file, via rag_app's loaders."""
    from rag_app.config import DEFAULT_LOADERS
    from rag_app.registry import create

    loaders: dict[str, Any] = {}
    out = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        if path.suffix not in loaders:
            loaders[path.suffix] = create("loader", DEFAULT_LOADERS[path.suffix], {})
        for doc in loaders[path.suffix].load(path, source=path.as_posix(), doc_id="x"):
            out.append(
                (path.as_posix(), doc.text, {"source": path.as_posix(), "page": int(doc.metadata.get("page", 0))})
            )
    return out


def rag_app_side(
    corpus: Path, tmp: Path, threads: int, embedder: dict[str, Any], models: Path
) -> tuple[Side, dict[str, Any]]:
    from rag_app.config import load_config, parse_config
    from rag_app.pipeline import build_pipeline

    base = load_config(REPO / "pipelines" / "local.yaml")
    data: dict[str, Any] = base.model_dump(exclude={"base_dir"})
    data["chunker"] = {"type": "recursive", "params": {"chunk_size": CHUNK, "chunk_overlap": OVERLAP}}
    data["embedder"]["params"].update({"threads": threads, "cache_dir": str(models), **embedder})
    data["store"]["params"]["uri"] = str(tmp / "rag_app.db")
    data["ingest"]["state_dir"] = str(tmp / "state")
    pipeline = build_pipeline(parse_config(data, base_dir=base.base_dir))
    t0 = time.perf_counter()
    pipeline.embedder.embed_documents(["warm up"])  # model load (and a one-time ONNX export) is not compared,
    # as for the peers (embed_query would load only the light query encoder)
    load_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    first = pipeline.ingest([corpus])
    t1, cpu = time.perf_counter(), time.process_time() - c0
    second = pipeline.ingest([corpus])
    t2 = time.perf_counter()
    stats_fn = getattr(pipeline.embedder, "token_stats", None)
    stats = stats_fn() if stats_fn else None
    pipeline.close()
    p = data["embedder"]["params"]
    info = {
        "load_s": load_s,
        "embedder": f"{p.get('backend', 'torch')}/{p.get('quantize') or 'fp32'}, threads {p.get('threads')}, "
        f"workers {p.get('workers', 1)}",
        "tokens": (stats.real, stats.padded) if stats else None,
    }
    side = Side(t1 - t0, t2 - t1, first.chunks_added, second.embeddings_computed, cpu)
    return side, info


def langchain_splitter() -> Any:
    """LangChain's recursive splitter counting MiniLM tokens (CHUNK / OVERLAP), as its side uses it."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from transformers import AutoTokenizer

    from rag_app.weights import resolve_model

    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        AutoTokenizer.from_pretrained(resolve_model(MODEL)), chunk_size=CHUNK, chunk_overlap=OVERLAP
    )


def langchain_side(corpus: Path, tmp: Path, threads: int) -> Side:
    import torch
    from langchain_core.documents import Document
    from langchain_core.indexing import InMemoryRecordManager, index
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_milvus import Milvus

    from rag_app.weights import resolve_model

    torch.set_num_threads(threads)
    model = resolve_model(MODEL)
    embeddings = HuggingFaceEmbeddings(model_name=model, encode_kwargs={"normalize_embeddings": True, "batch_size": 32})
    embeddings.embed_query("warm up")
    splitter = langchain_splitter()
    store = Milvus(
        embedding_function=embeddings,
        connection_args={"uri": str(tmp / "langchain.db")},
        collection_name="bench",
        auto_id=False,
    )
    records = InMemoryRecordManager(namespace="milvus/bench")
    records.create_schema()

    def run() -> dict[str, int]:
        docs = [Document(page_content=t, metadata=m) for _, t, m in load_texts(corpus)]
        chunks = splitter.split_documents(docs)
        return index(chunks, records, store, cleanup="incremental", source_id_key="source", batch_size=64)

    t0, c0 = time.perf_counter(), time.process_time()
    first = run()
    t1, cpu = time.perf_counter(), time.process_time() - c0
    second = run()
    t2 = time.perf_counter()
    return Side(t1 - t0, t2 - t1, first["num_added"], second["num_added"] + second["num_updated"], cpu)


def llamaindex_side(corpus: Path, threads: int) -> Side:
    import torch
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.core.vector_stores import SimpleVectorStore
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers import AutoTokenizer

    from rag_app.weights import resolve_model

    torch.set_num_threads(threads)
    model = resolve_model(MODEL)
    embed = HuggingFaceEmbedding(model_name=model, embed_batch_size=32, normalize=True, device="cpu")
    embed.get_text_embedding("warm up")
    tok = AutoTokenizer.from_pretrained(model)
    splitter = SentenceSplitter(
        chunk_size=CHUNK,
        chunk_overlap=OVERLAP,
        tokenizer=lambda text: tok.encode(text, add_special_tokens=False),
        include_metadata=False,
    )
    pipeline = IngestionPipeline(
        transformations=[splitter, embed], docstore=SimpleDocumentStore(), vector_store=SimpleVectorStore()
    )

    def run() -> int:
        docs = []
        for source, text, meta in load_texts(corpus):
            doc = Document(text=text, id_=f"{source}#{meta['page']}", metadata=meta)
            doc.excluded_embed_metadata_keys = list(meta)  # embed the text only, as the other sides do
            docs.append(doc)
        return len(pipeline.run(documents=docs))

    t0, c0 = time.perf_counter(), time.process_time()
    first = run()
    t1, cpu = time.perf_counter(), time.process_time() - c0
    second = run()
    t2 = time.perf_counter()
    return Side(t1 - t0, t2 - t1, first, second, cpu)


def chunk_texts(corpus: Path) -> list[str]:
    """The corpus's 200-token chunks as the LangChain side splits them."""
    splitter = langchain_splitter()
    return [c for _, text, _ in load_texts(corpus) for c in splitter.split_text(text)]


def encoder_rates(texts: list[str], threads: int, models: Path) -> dict[str, float] | None:
    """Chunks/s embedding ``texts``: rag_app's local.yaml embedder vs fastembed (fp32 and int8 ONNX)."""
    try:
        from fastembed import TextEmbedding
    except ImportError:
        return None
    import shutil

    from rag_app import registry
    from rag_app.backends.embedders import onnx_export
    from rag_app.config import load_config
    from rag_app.weights import resolve_model

    params = dict(load_config(REPO / "pipelines" / "local.yaml").embedder.params)
    params.update({"threads": threads, "cache_dir": str(models)})
    ours = registry.create("embedder", "sentence_transformers", params)
    ours.embed_documents(["warm up"])  # also writes the int8 export fastembed reads below
    source = Path(resolve_model(MODEL))
    rates: dict[str, float] = {}
    t0 = time.perf_counter()
    ours.embed_documents(texts)
    rates[f"rag_app ({params.get('backend')}/{params.get('quantize') or 'fp32'})"] = len(texts) / (
        time.perf_counter() - t0
    )
    for quantize in (None, "int8"):
        export = onnx_export.exported_path(MODEL, str(source), quantize, str(models))
        if not export.exists():  # the fp32 file: export it once with rag_app's exporter
            exporter = registry.create("embedder", "sentence_transformers", {**params, "quantize": quantize})
            exporter.embed_documents(["warm up"])
        folder = models / f"fastembed-{quantize or 'fp32'}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
            shutil.copy(source / name, folder / name)
        shutil.copy(export, folder / "model.onnx")
        fe = TextEmbedding(MODEL, specific_model_path=str(folder), threads=threads)
        list(fe.embed(["warm up"]))
        t0 = time.perf_counter()
        vectors = list(fe.embed(texts))  # its default batch size (256)
        rates[f"fastembed ({quantize or 'fp32'} onnx)"] = len(vectors) / (time.perf_counter() - t0)
    return rates


def print_rates(name: str, rates: dict[str, float], n: int) -> None:
    ours = next(iter(rates.values()))
    print(f"\n### {name}: the encoder alone, {n} chunk texts\n")
    print("| encoder | chunks/s | rag_app / it |")
    print("|---|---:|---:|")
    for label, rate in rates.items():
        print(f"| {label} | {rate:.1f} | {ours / rate:.2f}x |")


def quality(label: str) -> float | None:
    """nDCG@10 of one row of eval/suites/scifact-onnx.yaml (the eval cache makes a rerun cheap)."""
    cmd = [str(Path(sys.executable).parent / "rag"), "eval", str(REPO / "eval/suites/scifact-onnx.yaml"),
           "--pipeline", label, "--json", "--no-plots"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"quality run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return None
    return float(report["pipelines"][label]["ndcg@10"])


def print_table(name: str, sides: dict[str, Side]) -> None:
    ours = sides["rag_app"]
    print(f"\n### {name}\n")
    print("| | " + " | ".join(sides) + " |")
    print("|---|" + "---:|" * len(sides))
    rows = [
        ("first ingest (s)", lambda s: f"{s.ingest_s:.1f}"),
        ("chunks/s", lambda s: f"{s.chunks / s.ingest_s:.1f}"),
        ("unchanged re-ingest (s)", lambda s: f"{s.reingest_s:.2f}"),
        ("chunks", lambda s: str(s.chunks)),
        ("re-embedded on re-run", lambda s: str(s.reembedded)),
        ("first ingest: peer time / rag_app time", lambda s: f"{s.ingest_s / ours.ingest_s:.2f}x"),
        ("first ingest, CPU s (this process)", lambda s: f"{s.cpu_s:.1f}"),
        ("first ingest: peer CPU / rag_app CPU", lambda s: f"{s.cpu_s / ours.cpu_s:.2f}x"),
    ]
    for label, fmt in rows:
        print(f"| {label} | " + " | ".join(fmt(s) for s in sides.values()) + " |")
    print(f"\nrag_app first ingest / unchanged re-ingest: {ours.ingest_s / max(ours.reingest_s, 1e-6):.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch / onnxruntime threads, every side")
    parser.add_argument("--scifact-docs", type=int, default=2000, help="SciFact abstracts to ingest (0: skip)")
    parser.add_argument(
        "--torch-row", action="store_true", help="also rag_app with backend torch (and its SciFact row: +10 min)"
    )
    parser.add_argument("--peers", default="langchain,llamaindex,fastembed", help="comma-separated; '' for none")
    parser.add_argument("--quality", action="store_true", help="also the SciFact nDCG@10 guard")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    peers = [p for p in args.peers.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp_root:
        root = Path(tmp_root)
        corpora = [("data/corpus", HANDBOOK)]
        if args.scifact_docs:
            corpora.append(
                (f"SciFact, first {args.scifact_docs} abstracts", write_scifact(root / "scifact", args.scifact_docs))
            )
        for name, corpus in corpora:
            work = root / name.split(",")[0].replace("/", "_")
            sides: dict[str, Side] = {}
            (work / "ours").mkdir(parents=True)
            sides["rag_app"], info = rag_app_side(corpus, work / "ours", args.threads, {}, root / "models")
            print(f"\n[{name}] rag_app embedder: {info['embedder']}; model load {info['load_s']:.1f} s")
            if info["tokens"]:
                real, padded = info["tokens"]
                print(f"[{name}] rag_app tokens: {real} real of {padded} computed ({1 - real / padded:.1%} padding)")
            if args.torch_row:
                (work / "torch").mkdir()
                sides["rag_app (torch)"], _ = rag_app_side(
                    corpus,
                    work / "torch",
                    args.threads,
                    {"backend": "torch", "quantize": None, "workers": 1},
                    root / "models",
                )
            if "langchain" in peers:
                (work / "lc").mkdir()
                sides["LangChain"] = langchain_side(corpus, work / "lc", args.threads)
            if "llamaindex" in peers:
                sides["LlamaIndex"] = llamaindex_side(corpus, args.threads)
            print_table(name, sides)
            if "fastembed" in peers:
                texts = chunk_texts(corpus)
                rates = encoder_rates(texts, args.threads, root / "models")
                if rates is None:
                    print("\n(fastembed is not installed: its row is skipped)")
                else:
                    print_rates(name, rates, len(texts))
    if args.quality:
        print("\n### SciFact test nDCG@10 (dense MiniLM, eval/suites/scifact-onnx.yaml)\n")
        labels = ["minilm-dense-onnx-int8", *(["minilm-dense-torch"] if args.torch_row else [])]
        for label in labels:
            score = quality(label)
            if score is None:
                print(f"- {label}: failed")
            else:
                print(f"- {label}: {score:.4f} ({score - TORCH_NDCG10:+.4f} vs fp32 torch {TORCH_NDCG10})")
    print("\nratio = peer time / rag_app time (higher means rag_app is faster)")


if __name__ == "__main__":
    main()
