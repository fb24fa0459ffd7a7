"""LangChain and LlamaIndex retrievers, invoked through the frameworks' own APIs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.config import PipelineConfig
from rag_app.integrations import as_langchain_retriever, as_llamaindex_retriever
from rag_app.pipeline import Pipeline, build_pipeline
from rag_app.types import Filter

QUESTION = "how does the attention cost grow with sequence length"


@pytest.fixture
def pipeline(make_config: Callable[..., PipelineConfig], docs_dir: Path) -> Pipeline:
    p = build_pipeline(make_config())
    p.ingest([docs_dir])
    return p


def test_langchain_retriever_matches_search(pipeline: Pipeline) -> None:
    pytest.importorskip("langchain_core")
    retriever = as_langchain_retriever(pipeline, top_k=3)
    docs = retriever.invoke(QUESTION)
    hits = pipeline.search(QUESTION, top_k=3)
    assert [d.metadata["chunk_id"] for d in docs] == [h.chunk.chunk_id for h in hits]
    assert docs[0].page_content == hits[0].chunk.text
    assert docs[0].metadata["score"] == pytest.approx(hits[0].score)
    assert docs[0].metadata["source"].endswith("attention.md")


def test_langchain_retriever_in_an_lcel_chain(pipeline: Pipeline) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    retriever = as_langchain_retriever(pipeline, top_k=2)
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    join = RunnableLambda(lambda docs: "\n".join(d.page_content for d in docs))
    chain = {"context": retriever | join, "question": RunnablePassthrough()} | prompt
    rendered = chain.invoke(QUESTION).to_string()
    assert "quadratically" in rendered and QUESTION in rendered


def test_langchain_retriever_passes_filters(pipeline: Pipeline) -> None:
    pytest.importorskip("langchain_core")
    retriever = as_langchain_retriever(pipeline, top_k=5, filters=[Filter("format", "eq", "txt")])
    assert {Path(d.metadata["source"]).name for d in retriever.invoke("ranking")} == {"bm25.txt"}


def test_llamaindex_retriever_matches_search(pipeline: Pipeline) -> None:
    pytest.importorskip("llama_index.core")
    retriever = as_llamaindex_retriever(pipeline, top_k=3)
    nodes = retriever.retrieve(QUESTION)
    hits = pipeline.search(QUESTION, top_k=3)
    assert [n.node.node_id for n in nodes] == [h.chunk.chunk_id for h in hits]
    assert [n.score for n in nodes] == pytest.approx([h.score for h in hits])
    assert nodes[0].node.get_content() == hits[0].chunk.text


def test_llamaindex_retriever_in_a_query_engine(pipeline: Pipeline) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    engine = RetrieverQueryEngine.from_args(as_llamaindex_retriever(pipeline, top_k=2), llm=MockLLM())
    response = engine.query(QUESTION)
    assert [n.node.node_id for n in response.source_nodes] == [
        h.chunk.chunk_id for h in pipeline.search(QUESTION, top_k=2)
    ]
