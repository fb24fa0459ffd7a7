"""Eval suites: validation errors, env-var paths, overrides, cache keys and isolation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag_app.config import parse_config
from rag_app.errors import ConfigError
from rag_app.evaluation import configs
from rag_app.evaluation.datasets import DatasetNotFoundError, load_dataset
from rag_app.evaluation.gates import parse_fail_under
from rag_app.evaluation.suite import load_suite, parse_suite
from tests.conftest import REPO, fast_config_dict

SCIFACT = Path(os.environ.get("RAG_SCIFACT_DIR") or REPO.parent / "shared" / "datasets" / "scifact")


def suite_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "toy",
        "dataset": {"type": "beir", "path": "data"},
        "pipelines": [{"label": "fast", "config": "fast.yaml"}],
    }
    data.update(changes)
    return data


def problem(data: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_suite(data, base_dir=tmp_path, origin="toy.yaml")
    return str(info.value)


def test_defaults(tmp_path: Path) -> None:
    suite = parse_suite(suite_dict(), base_dir=tmp_path)
    assert suite.retrieval_depth() == 100
    keys = [m.key for m in suite.metric_names()]
    assert "ndcg@10" in keys and "recall@100" in keys and "hit@1" in keys and "map@100" in keys
    assert suite.resolve("data") == (tmp_path / "data").resolve()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pipeline": []}, "unknown key 'pipeline' (valid keys: name, description, dataset, pipelines"),
        (
            {"dataset": {"type": "beir", "path": "d", "splitt": "x"}},
            "unknown key 'dataset.splitt' (valid keys: type",
        ),
        ({"dataset": {"type": "sql", "path": "d"}}, "dataset.type"),
        ({"dataset": {"type": "files", "path": "d"}}, "needs 'corpus'"),
        ({"pipelines": []}, "pipelines"),
        ({"pipelines": [{"label": "a", "config": "x"}, {"label": "a", "config": "y"}]}, "repeated: a"),
        ({"pipelines": [{"label": "bad label", "config": "x"}]}, "pipelines.0.label"),
        ({"pipelines": [{"label": "a", "config": "x", "overide": {}}]}, "unknown key 'pipelines.0.overide'"),
        ({"metrics": ["ndgc"]}, "unknown metric 'ndgc'"),
        ({"fail_under": {"ndcg": 0.5}}, "needs a cut-off"),
        ({"cutoffs": [0, 10]}, "positive"),
        ({"depth": 5}, "at least the largest cut-off"),
        ({"queries": {"limit": 5, "ids": ["a"]}}, "choose one of limit, sample, ids"),
    ],
)
def test_validation_errors_are_one_clear_line(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    text = problem(suite_dict(**change), tmp_path)
    assert message in text
    assert text.startswith("toy.yaml: ") and "\n" not in text


def test_missing_suite_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_suite(bad)


def test_dataset_path_from_env_var_and_missing_dataset_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = suite_dict(dataset={"type": "beir", "path": "${TOY_DATA_DIR:-nowhere/toy}"})
    monkeypatch.delenv("TOY_DATA_DIR", raising=False)
    suite = parse_suite(data, base_dir=tmp_path)
    assert suite.dataset.path == "nowhere/toy" and suite.dataset.env_vars == ["TOY_DATA_DIR"]
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(suite)
    assert str(tmp_path / "nowhere" / "toy") in str(info.value) and "$TOY_DATA_DIR" in str(info.value)

    monkeypatch.setenv("TOY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert parse_suite(data, base_dir=tmp_path).dataset.path == str(tmp_path / "elsewhere")


def test_query_subsets(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d", "title": "", "text": "x"}\n', encoding="utf-8")
    queries = [{"_id": f"q{i}", "text": f"question {i}"} for i in range(10)]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), encoding="utf-8")
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td\t1" for i in range(9)]  # q9 is not judged
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    def ids(**subset: Any) -> list[str]:
        return list(load_dataset(parse_suite(suite_dict(queries=subset), base_dir=tmp_path)).queries)

    assert ids() == [f"q{i}" for i in range(9)]
    assert ids(limit=3) == ["q0", "q1", "q2"]
    assert ids(ids=["q5", "q1"]) == ["q5", "q1"]
    sampled = ids(sample=4, seed=3)
    assert len(sampled) == 4 and sampled == ids(sample=4, seed=3) and sampled != ids(sample=4, seed=4)
    with pytest.raises(ConfigError, match="not judged queries"):
        ids(ids=["q9"])


def test_overrides_deep_merge_and_type_change_replaces_component() -> None:
    base = {
        "chunker": {"type": "markdown", "params": {"chunk_size": 200, "chunk_overlap": 30}},
        "retrieval": {},
    }
    merged = configs.deep_merge(base, {"chunker": {"params": {"chunk_size": 50}}, "retrieval": {"top_k": 9}})
    assert merged["chunker"] == {"type": "markdown", "params": {"chunk_size": 50, "chunk_overlap": 30}}
    assert merged["retrieval"] == {"top_k": 9}
    replaced = configs.deep_merge(base, {"chunker": {"type": "recursive", "params": {"chunk_size": 9}}})
    assert replaced["chunker"] == {"type": "recursive", "params": {"chunk_size": 9}}
    assert base["chunker"]["params"]["chunk_size"] == 200  # inputs untouched


def test_pipeline_override_errors_name_the_suite_pipeline(tmp_path: Path) -> None:
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(fast_config_dict(tmp_path / "s")), encoding="utf-8")
    data = suite_dict(pipelines=[{"label": "fast", "config": "fast.yaml", "overrides": {"retrieval": {"topk": 3}}}])
    suite = parse_suite(data, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"suite pipeline 'fast'.*unknown key 'retrieval.topk'"):
        configs.resolve_pipeline(suite, suite.pipelines[0])


def test_cache_key_ignores_runtime_params_and_isolation_moves_the_store(tmp_path: Path) -> None:
    data = fast_config_dict(tmp_path / "state")
    config = parse_config(data, base_dir=tmp_path)
    key = configs.cache_key(config, "sum")
    data["embedder"]["params"]["dimension"] = 64
    assert configs.cache_key(parse_config(data, base_dir=tmp_path), "sum") != key
    data = fast_config_dict(tmp_path / "elsewhere")
    data["store"]["params"]["batch_size"] = 7
    assert configs.cache_key(parse_config(data, base_dir=tmp_path), "sum") == key
    assert configs.cache_key(config, "other") != key

    iso = configs.isolate(config, tmp_path / "cache" / key, key)
    assert iso.store.params["path"] == str(tmp_path / "cache" / key / "store")
    assert iso.ingest.state_dir == str(tmp_path / "cache" / key / "state")

    milvus = fast_config_dict(tmp_path)
    milvus["store"] = {
        "type": "milvus",
        "params": {"uri": "../data/index/local.db", "collection": "handbook"},
    }
    iso = configs.isolate(parse_config(milvus, base_dir=tmp_path), tmp_path / "c", "abc")
    assert iso.store.params == {"uri": str(tmp_path / "c" / "milvus.db"), "collection": "eval_abc"}


def test_cache_key_ignores_retrievers_so_hybrid_reuses_the_dense_collection(tmp_path: Path) -> None:
    pytest.importorskip("bm25s", reason="the BM25 retriever needs rag-app[hybrid]")
    dense = parse_config(fast_config_dict(tmp_path), base_dir=tmp_path)
    hybrid = fast_config_dict(tmp_path)
    hybrid["retrieval"] = {"retrievers": [{"type": "dense"}, {"type": "bm25", "params": {"k1": 1.2}}]}
    key = configs.cache_key(parse_config(hybrid, base_dir=tmp_path), "sum")
    assert key == configs.cache_key(dense, "sum")  # the BM25 index is backfilled from the store
    hybrid["chunker"]["params"]["chunk_size"] = 77  # changes what is stored
    assert configs.cache_key(parse_config(hybrid, base_dir=tmp_path), "sum") != key
    hybrid["chunker"]["params"]["chunk_size"] = fast_config_dict(tmp_path)["chunker"]["params"]["chunk_size"]
    hybrid["retrieval"]["retrievers"][0]["weight"] = 3.0  # query-time only
    hybrid["retrieval"]["fusion"] = {"method": "weighted"}
    assert configs.cache_key(parse_config(hybrid, base_dir=tmp_path), "sum") == key


def test_fail_under_parsing() -> None:
    assert parse_fail_under(["nDCG@10=0.6", "R@100=0.9"]) == {"ndcg@10": 0.6, "recall@100": 0.9}
    for bad, message in (
        ("ndcg@10", "METRIC=VALUE"),
        ("ndcg@10=high", "not a number"),
        ("foo@1=1", "unknown"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_fail_under([bad])


@pytest.mark.parametrize("name", ["scifact.yaml", "handbook.yaml", "smoke.yaml"])
def test_shipped_suites_validate(name: str) -> None:
    suite = load_suite(REPO / "eval" / "suites" / name)
    for spec in suite.pipelines:
        assert suite.resolve(spec.config).is_file()


@pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl").exists(),
    reason=f"SciFact not found at {SCIFACT}; set RAG_SCIFACT_DIR (see eval/README.md)",
)
def test_scifact_dataset_loads_as_beir() -> None:
    suite = load_suite(REPO / "eval" / "suites" / "scifact.yaml")
    ds = load_dataset(suite)
    assert len(ds.queries) == 300 and sum(len(v) for v in ds.qrels.values()) == 339
    docs = list(ds.documents())
    assert len(docs) == 5183 and len({d.doc_id for d in docs}) == 5183
    first = docs[0]
    assert first.text.startswith(first.metadata["title"] + " ")
