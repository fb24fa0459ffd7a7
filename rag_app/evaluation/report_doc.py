"""The human-readable report, built from the metrics.json data alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rag_app.evaluation.gates import gate_line
from rag_app.evaluation.metrics import FAMILIES, MetricName
from rag_app.evaluation.render import Block, Bullets, Code, Doc, Heading, Image, Para, Table


def build_doc(data: dict[str, Any], plots: Sequence[tuple[str, str]]) -> Doc:
    """Report blocks: summary, metric tables (published numbers alongside), gates, provenance."""
    ds, pipes = data["dataset"], data["pipelines"]
    doc = Doc(f"Eval report: {data['suite']['name']}")
    dataset_line = (
        f"Dataset: {ds['name']} ({ds['type']}, split {ds['split']}), "
        f"{ds['queries_evaluated']} judged queries evaluated, corpus `{ds['corpus']}`"
    )
    doc.add(*header_blocks(data, dataset_line))
    doc.add(Para(data["method"]["aggregation"] + " Metrics computed by " + data["method"]["library"] + "."))
    doc.add(Heading("Summary"), _summary(pipes))
    doc.add(Heading("Metrics"))
    doc.add(Para("Published reference values, where the suite declares them, are shown as `measured (pub. x)`."))
    keys = [MetricName.parse(k) for k in data["method"]["metrics"]]
    for family, (_, display) in FAMILIES.items():
        ks = sorted({m.k or 0 for m in keys if m.family == family})
        if ks:
            doc.add(Heading(display, 3), _family_table(pipes, family, ks))
    reproduced = _published(pipes)
    if reproduced is not None:
        doc.add(Heading("Published vs measured"), reproduced)
    doc.add(*gate_blocks(data))
    if plots:
        doc.add(Heading("Plots"))
        doc.add(*[Image(path, caption) for path, caption in plots])
    doc.add(Heading("Pipelines"))
    for label, p in pipes.items():
        ing = p["ingest"]
        cache = "reused (0 embeddings computed)" if p["cache"]["reused"] else "built"
        doc.add(
            Heading(label, 3),
            Bullets(
                [
                    f"Config: `{p['config_path']}`, hash {p['config_hash'][:12]}",
                    f"Collection: {cache}, key {p['cache']['key']} in `{p['cache']['dir']}`",
                    f"Fingerprint: `{json.dumps(p['fingerprint'], sort_keys=True)}`",
                    f"Ingest: {ing['files_seen']} documents, {ing['chunks_added']} chunks added, "
                    f"{ing['embeddings_computed']} embeddings computed, {ing['files_failed']} failed, "
                    f"{ing['wall_seconds']:.1f} s",
                    f"Retrieval: {p['retrieval_depth']} chunks per query; queries took {p['query_wall_seconds']:.1f} s",
                ]
            ),
        )
    doc.add(*environment_blocks(data))
    return doc


def header_blocks(data: dict[str, Any], dataset_line: str) -> list[Block]:
    """The description and provenance bullets every report opens with."""
    suite = data["suite"]
    git = data.get("git") or {}
    commit = git.get("commit") or "no commit"
    dirty = " (uncommitted changes)" if git.get("dirty") else ""
    blocks: list[Block] = [Para(suite["description"])] if suite.get("description") else []
    blocks.append(
        Bullets(
            [
                f"Created {data['created_utc']} in {data['wall_seconds']:.1f} s; command: `{data['command']}`",
                dataset_line,
                f"Git: {commit}{dirty}" if git else "Git: not a git work tree",
                f"Suite file: `{suite['path']}` (sha256 {str(suite['sha256'])[:12]})",
            ]
        )
    )
    return blocks


def gate_blocks(data: dict[str, Any]) -> list[Block]:
    """A "Gates" section with one PASS/FAIL line per gate (nothing when there are none)."""
    if not data["gates"]:
        return []
    return [Heading("Gates"), Bullets([_gate_line(g) for g in data["gates"]])]


def environment_blocks(data: dict[str, Any]) -> list[Block]:
    """Machine, package versions and dataset checksums (every report ends with them)."""
    return [
        Heading("Environment"),
        Bullets([f"{k}: {v}" for k, v in data["machine"].items()]),
        Code("\n".join(f"{k}=={v}" for k, v in data["packages"].items() if v)),
        Para("Dataset checksums (sha256):"),
        Bullets([f"{k}: `{v}`" for k, v in data["dataset"]["checksums"].items()]),
    ]


def _summary(pipes: dict[str, Any]) -> Table:
    recalls = sorted(
        {MetricName.parse(k).k or 0 for p in pipes.values() for k in p["metrics"] if k.startswith("recall@")}
    )
    recall = "recall@100" if 100 in recalls else f"recall@{recalls[-1]}" if recalls else "recall@100"
    headline = ["ndcg@10", recall, "mrr@10", "hit@10"]
    present = [k for k in headline if any(k in p["metrics"] for p in pipes.values())]
    header = ["pipeline", *[MetricName.parse(k).display for k in present]]
    header += ["p50 ms", "p95 ms", "ingest s", "peak RSS MB"]
    rows = []
    for label, p in pipes.items():
        row = [label, *[_cell(p, k) for k in present]]
        lat = p["latency_ms"]
        row += [
            f"{lat['p50']:.1f}",
            f"{lat['p95']:.1f}",
            f"{p['ingest']['wall_seconds']:.1f}",
            f"{p['peak_rss_mb']:.0f}",
        ]
        rows.append(row)
    return Table(header, rows)


def _family_table(pipes: dict[str, Any], family: str, ks: list[int]) -> Table:
    display = FAMILIES[family][1]
    header = ["pipeline", *[f"{display}@{k}" for k in ks]]
    rows = [[label, *[_cell(p, f"{family}@{k}") for k in ks]] for label, p in pipes.items()]
    return Table(header, rows)


def _cell(p: dict[str, Any], key: str) -> str:
    if key not in p["metrics"]:
        return "-"
    text = f"{p['metrics'][key]:.4f}"
    pub = (p.get("published") or {}).get("metrics", {})
    return f"{text} (pub. {pub[key]:.4f})" if key in pub else text


def _published(pipes: dict[str, Any]) -> Table | None:
    rows = []
    for label, p in pipes.items():
        pub = p.get("published")
        if not pub:
            continue
        for key, ref in pub["metrics"].items():
            got = p["metrics"].get(key)
            if got is None:
                continue
            tol = pub.get("tolerance")
            verdict = "-" if tol is None else ("within" if abs(got - ref) <= tol + 1e-12 else "OUTSIDE")
            tol_text = "-" if tol is None else f"±{tol:g}"
            rows.append(
                [
                    label,
                    MetricName.parse(key).display,
                    f"{got:.4f}",
                    f"{ref:.4f}",
                    f"{_delta(got - ref):+.4f}",
                    f"{tol_text} {verdict}",
                    pub["source"],
                ]
            )
    if not rows:
        return None
    return Table(["pipeline", "metric", "measured", "published", "Δ", "tolerance", "source"], rows, 2)


def _gate_line(g: dict[str, Any]) -> str:
    return gate_line(
        g["pipeline"], g["metric"], g["value"], g["threshold"], g.get("direction", "fail_under"), g["passed"]
    )


def _delta(value: float) -> float:
    """``value`` with rounding noise removed, so a perfect match prints +0.0000, not -0.0000."""
    return 0.0 if abs(value) < 5e-5 else value
