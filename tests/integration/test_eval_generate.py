"""`rag ingest` -> `rag eval generate` -> `rag eval SUITE`: a synthetic gold set plugs into a `files` suite.

The generator is the `openai` backend talking HTTP to the local OpenAI-protocol stub, whose reply
depends on the chunk in each prompt; retrieval is the fast hashing + memory test pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli import app
from tests.conftest import fast_config_dict
from tests.support.openai_stub import OpenAIStub, StubBehaviour

pytestmark = pytest.mark.slow
runner = CliRunner()

TOPICS = {
    "rope.md": ("rotary", "Rotary position embeddings rotate query and key vectors by angles that grow with "
                "position, so the dot product between two tokens depends only on their relative distance."),
    "kv-cache.md": ("cache", "The key value cache stores the keys and values of earlier tokens during decoding, "
                    "trading accelerator memory for not recomputing attention over the whole prefix again."),
    "guides/distillation.md": ("distillation", "Knowledge distillation trains a small student network to match "
                               "the softened output distribution of a large teacher instead of hard labels."),
    "guides/pruning.md": ("pruning", "Magnitude pruning removes the weights with the smallest absolute values and "
                          "then fine-tunes the remaining network to recover most of the lost accuracy."),
}
SECOND = "Practitioners report that {k} interacts with batch size, sequence length and hardware choices, and " \
    "published ablations on {k} rarely agree about which setting is best across different model families."


class ChunkQuestions(StubBehaviour):
    """A question built from the topic keyword of the chunk in the prompt ("" for unknown chunks)."""

    def __init__(self, stub: OpenAIStub) -> None:
        super().__init__()
        self._stub = stub

    @property
    def reply(self) -> str:
        prompt = str(self._stub.requests[-1]["body"]["messages"][-1]["content"])
        for key, first in TOPICS.values():
            if first[:40] in prompt:
                return f"Question: What is the main idea behind {key} in these notes?"
            if f"published ablations on {key} rarely" in prompt:  # second chunk: a question copying it
                return f"Which ablations on {key} rarely agree about which setting is best?"
        return ""

    @reply.setter
    def reply(self, value: str) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        server.behaviour = ChunkQuestions(server)
        yield server


def test_generate_then_evaluate_with_a_files_suite(
    stub: OpenAIStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    for rel, (key, first) in TOPICS.items():
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(f"# {key.title()}\n\n{first}\n\n{SECOND.format(k=key)}\n", encoding="utf-8")
    monkeypatch.setenv("RAG_TEST_STUB_KEY", stub.api_key)
    data = fast_config_dict(tmp_path / "state")
    data["chunker"]["params"] = {"chunk_size": 40, "chunk_overlap": 0}
    data["generator"] = {"type": "openai", "params": {
        "model": "stub-chat", "base_url": stub.base_url, "api_key_env": "RAG_TEST_STUB_KEY", "max_retries": 0}}
    config = tmp_path / "pipelines" / "unit.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert runner.invoke(app, ["ingest", "-c", str(config), str(corpus)]).exit_code == 0

    out = tmp_path / "datasets" / "synthetic"
    args = ["eval", "generate", "--config", str(config), "--out", str(out), "--n", "10", "--seed", "1"]
    args += ["--per-document", "2", "--min-chunk-tokens", "20"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 4 questions" in result.stdout and "copied_span 4" in result.stdout
    assert "dropped (copied_span)" in result.stderr and "kept 4/10" in result.stderr  # progress on stderr
    record = json.loads((out / "generation.json").read_text(encoding="utf-8"))
    assert record["counts"]["generated"] == 8 and record["counts"]["kept"] == 4
    assert record["generator"] == "openai:stub-chat" and record["seed"] == 1 and "command" in record
    qrels = (out / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    assert sorted(line.split("\t")[1] for line in qrels[1:]) == sorted(TOPICS)

    first = (out / "queries.jsonl").read_text(encoding="utf-8")
    again = runner.invoke(app, [*args, "--no-check-retrieval", "--json"])
    assert again.exit_code == 2 and "pass --overwrite" in again.stderr
    again = runner.invoke(app, [*args, "--no-check-retrieval", "--json", "--overwrite"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["kept"] == 4
    assert (out / "queries.jsonl").read_text(encoding="utf-8") == first  # same seed, same questions

    suite = tmp_path / "suites" / "synthetic.yaml"
    suite.parent.mkdir()
    spec = {
        "name": "synthetic",
        "dataset": {"type": "files", "path": "../datasets/synthetic", "corpus": "../corpus"},
        "pipelines": [{"label": "hashing", "config": "../pipelines/unit.yaml"}],
        "metrics": ["hit", "ndcg"],
        "cutoffs": [1, 5],
        "depth": 10,
    }
    suite.write_text(yaml.safe_dump(spec), encoding="utf-8")
    reports, cache = str(tmp_path / "reports"), str(tmp_path / "cache")
    run = runner.invoke(
        app, ["eval", str(suite), "--reports-dir", reports, "--cache-dir", cache, "--no-plots", "--json",
              "--fail-under", "hit@5=1.0"],
    )
    assert run.exit_code == 0, run.output
    metrics = json.loads(run.stdout)["pipelines"]["hashing"]
    assert metrics["hit@5"] == 1.0  # every question passed the round trip on the same chunks and embedder
    report = json.loads(Path(json.loads(run.stdout)["report"], "metrics.json").read_text(encoding="utf-8"))
    assert report["dataset"]["queries_evaluated"] == 4
