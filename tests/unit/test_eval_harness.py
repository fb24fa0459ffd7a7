"""The eval harness end to end on the fast pipeline: reports, cache reuse, gates, compare, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rag_app.cli.eval import app
from tests.conftest import REPO, fast_config_dict

runner = CliRunner()

QUERIES = {
    "q-attn": "why does self-attention cost grow quadratically with sequence length",
    "q-lora": "low-rank update of frozen pretrained weights",
    "q-bm25": "term frequency and inverse document frequency ranking",
    "q-none": "a question whose judged document was never ingested",
}
QRELS = {"q-attn": "attention.md", "q-lora": "lora.md", "q-bm25": "notes/bm25.txt", "q-none": "missing.md"}


def write_dataset(root: Path) -> None:
    (root / "qrels").mkdir(parents=True)
    lines = [json.dumps({"_id": q, "text": t}) for q, t in QUERIES.items()]
    lines.append(json.dumps({"_id": "q-unjudged", "text": "not in the qrels"}))
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["query-id\tcorpus-id\tscore", *[f"{q}\t{d}\t1" for q, d in QRELS.items()]]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def write_suite(tmp: Path, docs_dir: Path, **changes: Any) -> Path:
    (tmp / "pipelines").mkdir(exist_ok=True)
    config = tmp / "pipelines" / "fast.yaml"
    config.write_text(yaml.safe_dump(fast_config_dict(tmp / "user-index")), encoding="utf-8")
    if not (tmp / "gold").exists():
        write_dataset(tmp / "gold")
    suite: dict[str, Any] = {
        "name": "toy",
        "dataset": {"type": "files", "path": "${TOY_GOLD:-gold}", "corpus": str(docs_dir)},
        "pipelines": [
            {"label": "fast", "config": "pipelines/fast.yaml"},
            {
                "label": "fast-small",
                "config": "pipelines/fast.yaml",
                "overrides": {"chunker": {"params": {"chunk_size": 12, "chunk_overlap": 2}}},
            },
        ],
        "cutoffs": [1, 3, 10],
        "depth": 20,
    }
    suite.update(changes)
    path = tmp / "toy.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def run_eval(tmp: Path, suite: Path, *extra: str, plots: bool = False) -> Any:
    args = [str(suite), "--reports-dir", str(tmp / "reports"), "--cache-dir", str(tmp / "cache"), *extra]
    args += [] if plots else ["--no-plots"]
    return runner.invoke(app, args)


def only_report(tmp: Path) -> Path:
    (folder,) = sorted((tmp / "reports").iterdir())
    return folder


def test_suite_end_to_end_writes_every_report_file(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_suite(tmp_path, docs_dir)
    result = run_eval(tmp_path, suite, plots=True)
    assert result.exit_code == 0, result.output
    assert "fast-small" in result.stdout and "report:" in result.stdout
    folder = only_report(tmp_path)
    assert folder.name.endswith("-toy") and folder.name[:8].isdigit() and "T" in folder.name
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"metrics.json", "report.md", "report.html", "fast.run.trec", "fast-small.run.trec"} <= names
    assert {"plots/recall_curve.png", "plots/per_query_ndcg_at_10.png", "plots/latency.png"} <= names

    data = json.loads((folder / "metrics.json").read_text())
    assert data["dataset"]["queries_evaluated"] == 4 and data["dataset"]["queries_without_judgements"] == 1
    assert set(data["dataset"]["checksums"]) == {"queries", "qrels", "corpus"}
    assert data["machine"]["cpu_count"] and data["packages"]["ir-measures"] and "git" in data
    assert data["command"] and "aggregated per document with max" in data["method"]["aggregation"]
    fast = data["pipelines"]["fast"]
    assert len(fast["config_hash"]) == 64 and fast["fingerprint"]["dimension"] == 128
    assert set(fast["per_query"]) == set(QUERIES)  # the query that cannot be answered still counts
    assert fast["per_query"]["q-none"]["ndcg@10"] == 0.0
    assert fast["metrics"]["hit@10"] == pytest.approx(3 / 4)
    assert {"p50", "p95"} <= set(fast["latency_ms"]) and fast["peak_rss_mb"] > 0
    assert fast["ingest"]["files_new"] == 3 and not fast["cache"]["reused"]
    # the user's own index is untouched: the eval collection lives in the cache folder
    assert not (tmp_path / "user-index").exists() and fast["cache"]["dir"].startswith(str(tmp_path / "cache"))

    trec = (folder / "fast.run.trec").read_text().splitlines()
    assert trec[0].split()[:4] == ["q-attn", "Q0", "attention.md", "1"]
    md, html = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for text in (md, html):
        assert "plots/recall_curve.png" in text and "aggregated per document with max" in text
        assert data["pipelines"]["fast-small"]["config_hash"][:12] in text


def test_second_run_reuses_the_collection_and_embeds_nothing(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_suite(tmp_path, docs_dir)
    assert run_eval(tmp_path, suite, "--json").exit_code == 0
    first = json.loads(run_eval(tmp_path, suite, "--json").stdout)
    second = json.loads(Path(first["report"], "metrics.json").read_text())
    for p in second["pipelines"].values():
        assert p["ingest"]["embeddings_computed"] == 0 and p["cache"]["reused"]
    assert first["pipelines"]["fast"]["ndcg@10"] > 0
    reports = sorted((tmp_path / "reports").iterdir())
    assert len(reports) == 2
    old = json.loads((reports[0] / "metrics.json").read_text())
    assert old["pipelines"]["fast"]["metrics"] == second["pipelines"]["fast"]["metrics"]


def test_gates_exit_1_below_and_0_above(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_suite(tmp_path, docs_dir)
    below = run_eval(tmp_path, suite, "--fail-under", "ndcg@10=0.99", "--fail-under", "hit@10=0.5")
    assert below.exit_code == 1
    failed = [line for line in below.stderr.splitlines() if line.startswith("gate failed")]
    assert len(failed) == 2  # one line per failing pipeline/metric (hit@10 = 0.75 passes)
    assert "FAIL fast: ndcg@10 = " in failed[0] and "< 0.99" in failed[0]
    assert run_eval(tmp_path, suite, "--fail-under", "nDCG@10=0.1").exit_code == 0

    declared = write_suite(tmp_path, docs_dir, fail_under={"hit@10": 0.9})
    result = run_eval(tmp_path, declared)
    assert result.exit_code == 1 and "hit@10 = 0.7500 < 0.9" in result.stderr
    assert run_eval(tmp_path, declared, "--fail-under", "hit@10=0.5").exit_code == 0  # the command line wins
    data = json.loads((sorted((tmp_path / "reports").iterdir())[-1] / "metrics.json").read_text())
    assert all(g["passed"] for g in data["gates"]) and len(data["gates"]) == 2


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ({"pipelines": [{"label": "x", "config": "pipelines/fast.yaml", "overide": {}}]}, [], "unknown key"),
        ({"dataset": {"type": "files", "path": "${TOY_GOLD:-nowhere}", "corpus": "."}}, [], "set $TOY_GOLD"),
        ({}, ["--pipeline", "nope"], "no pipeline labelled 'nope'"),
        ({}, ["--fail-under", "ndcg=0.5"], "needs a cut-off"),
        ({"pipelines": [{"label": "x", "config": "pipelines/none.yaml"}]}, [], "config file not found"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    tmp_path: Path, docs_dir: Path, change: dict[str, Any], args: list[str], message: str
) -> None:
    suite = write_suite(tmp_path, docs_dir, **change)
    result = run_eval(tmp_path, suite, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_compare_shows_deltas_and_p_values(tmp_path: Path, docs_dir: Path) -> None:
    suite = write_suite(tmp_path, docs_dir)
    assert run_eval(tmp_path, suite, "--pipeline", "fast").exit_code == 0
    changed = write_suite(
        tmp_path,
        docs_dir,
        pipelines=[
            {
                "label": "fast",
                "config": "pipelines/fast.yaml",
                "overrides": {"embedder": {"params": {"dimension": 16}}},
            },
            {"label": "extra", "config": "pipelines/fast.yaml"},
        ],
    )
    assert run_eval(tmp_path, changed).exit_code == 0
    a, b = sorted((tmp_path / "reports").iterdir())
    result = runner.invoke(app, ["compare", str(a), str(b), "--resamples", "500"])
    assert result.exit_code == 0, result.output
    assert "p(t)" in result.stdout and "p(rand)" in result.stdout and "only in B: extra" in result.stdout
    assert any(line.startswith("fast ") and "ndcg@10" in line for line in result.stdout.splitlines())

    data = json.loads(runner.invoke(app, ["compare", str(a), str(b), "--json", "--resamples", "500"]).stdout)
    row = next(d for d in data["deltas"] if d["metric"] == "ndcg@10")
    assert row["delta"] == pytest.approx(row["b"] - row["a"]) and row["n"] == 4
    assert 0.0 <= row["p_ttest"] <= 1.0 and 0.0 <= row["p_randomization"] <= 1.0

    same = json.loads(runner.invoke(app, ["compare", str(a), str(a), "--json"]).stdout)
    assert all(d["delta"] == 0 and d["p_ttest"] == 1.0 and d["p_randomization"] == 1.0 for d in same["deltas"])
    missing = runner.invoke(app, ["compare", str(a), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no eval report" in missing.output


def test_beir_dataset_is_ingested_as_documents(tmp_path: Path) -> None:
    root = tmp_path / "beir"
    write_dataset(root)
    records = [
        {"_id": "attention.md", "title": "Attention", "text": "Self-attention cost grows quadratically."},
        {"_id": "lora.md", "title": "LoRA", "text": "A low-rank update of frozen pretrained weights."},
        {"_id": "notes/bm25.txt", "title": "", "text": "BM25: term frequency, inverse document frequency."},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    suite = write_suite(tmp_path, tmp_path, dataset={"type": "beir", "path": str(root)}, queries={"limit": 3})
    result = run_eval(tmp_path, suite, "--pipeline", "fast")
    assert result.exit_code == 0, result.output
    data = json.loads((only_report(tmp_path) / "metrics.json").read_text())
    fast = data["pipelines"]["fast"]
    assert fast["ingest"]["files_new"] == 3 and data["dataset"]["queries_evaluated"] == 3
    assert fast["metrics"]["hit@1"] == 1.0


def test_default_command_routing_and_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "compare" in result.stdout and "run" in result.stdout
    assert runner.invoke(app, ["/no/such/suite.yaml"]).exit_code == 2  # routed to `run`
    assert runner.invoke(app, ["run", "/no/such/suite.yaml"]).exit_code == 2


def test_shipped_smoke_suite_runs(tmp_path: Path) -> None:
    result = run_eval(tmp_path, REPO / "eval" / "suites" / "smoke.yaml", "--json", "--pipeline", "hashing")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["pipelines"]) == {"hashing"}
    data = json.loads(Path(out["report"], "metrics.json").read_text())
    assert data["dataset"]["queries_evaluated"] >= 50
    assert all(p["ingest"]["files_failed"] == 0 for p in data["pipelines"].values())


def test_wired_into_the_rag_cli() -> None:
    from rag_app.cli import app as rag

    names = [g.name for g in rag.registered_groups]
    if "eval" not in names:
        pytest.skip("rag_app/cli/__init__.py does not register `rag eval` yet (app.add_typer(eval_cli.app, ...))")
    result = runner.invoke(rag, ["eval", "/no/such/suite.yaml"])
    assert result.exit_code == 2 and "suite file not found" in result.output
