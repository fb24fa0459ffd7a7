"""The manifest's generation + journal and the BM25 index's stamp, in-process parts.

The kill -9 tests with real subprocesses are in tests/integration/test_crash_consistency.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.backends.retrievers.bm25 import BM25Retriever
from rag_app.config import PipelineConfig
from rag_app.errors import ConfigError
from rag_app.ingest import crashpoints, runner
from rag_app.ingest.manifest import Manifest, SourceEntry
from rag_app.pipeline import build_pipeline
from rag_app.types import Chunk

MakeConfig = Callable[..., PipelineConfig]
HYBRID = {"retrievers": [{"type": "dense"}, {"type": "bm25"}], "candidates": 20}


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(cid, cid.split(":")[0], "src", text)


def test_save_bumps_the_generation_and_closes_the_journal(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "m.json")
    manifest.sources["a"] = SourceEntry("d", "h1", ["d:0"])
    manifest.save()
    assert Manifest.load(tmp_path / "m.json").generation == 1
    manifest.begin({"a": ("d", ["d:0", "d:1"])})
    journal = tmp_path / "m.json.journal"
    assert json.loads(journal.read_text())["generation"] == 2
    manifest.save()
    assert not journal.exists()
    reread = Manifest.load(tmp_path / "m.json")
    assert reread.generation == 2 and not reread.interrupted


def test_an_open_journal_marks_its_sources_changed_and_keeps_every_id(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "m.json")
    manifest.sources["a"] = SourceEntry("d", "h1", ["d:0", "d:1"])
    manifest.save()
    manifest.begin({"a": ("d", ["d:0", "d:2"]), "b": ("e", ["e:0"])})  # ... then the process dies
    crashed = Manifest.load(tmp_path / "m.json")
    assert crashed.interrupted == {"a": ["d:0", "d:2"], "b": ["e:0"]}
    assert crashed.sources["a"].content_hash == "" and crashed.sources["a"].chunk_ids == ["d:0", "d:1", "d:2"]
    assert crashed.sources["b"] == SourceEntry("e", "", ["e:0"])
    assert crashed.generation == 2  # the journal's: an index stamped before the crash never matches
    crashed.save()
    assert Manifest.load(tmp_path / "m.json").generation == 3


def test_a_journal_the_manifest_already_saved_past_is_ignored(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "m.json")
    manifest.begin({"a": ("d", ["d:0"])})
    journal = (tmp_path / "m.json.journal").read_text()
    manifest.sources["a"] = SourceEntry("d", "h1", ["d:0"])
    manifest.save()
    (tmp_path / "m.json.journal").write_text(journal)  # killed between the save and the unlink
    again = Manifest.load(tmp_path / "m.json")
    assert not again.interrupted and again.sources["a"].content_hash == "h1"


def test_a_new_journal_never_replaces_an_unsaved_replay(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "m.json")
    manifest.begin({"a": ("d", ["d:0"])})
    replayed = Manifest.load(tmp_path / "m.json")
    replayed.begin({"b": ("e", ["e:0"])})  # persists "a" as changed first
    assert set(Manifest.load(tmp_path / "m.json").sources) == {"a", "b"}


def test_unreadable_journal_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "m.json.journal").write_text("{not json")
    with pytest.raises(ConfigError, match=r"ingest journal .* is unreadable.*--rebuild") as info:
        Manifest.load(tmp_path / "m.json")
    assert "\n" not in str(info.value)


def test_bm25_persists_its_generation_and_clear_forgets_it(tmp_path: Path) -> None:
    index = BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25")
    index.on_upsert([chunk("a:0", "apples and pears")])
    index.commit(7)
    reopened = BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25")
    assert (reopened.generation(), reopened.size()) == (7, 1)
    reopened.commit(8)  # nothing changed but the stamp: still persisted
    assert BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25").generation() == 8
    reopened.clear()
    cleared = BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25")
    assert (cleared.generation(), cleared.size()) == (None, 0)


def test_bm25_reads_an_index_written_before_generations(tmp_path: Path) -> None:
    (tmp_path / "bm25").mkdir()
    row = {"chunk_id": "a:0", "doc_id": "a", "source": "src", "text": "apples", "metadata": {}}
    (tmp_path / "bm25" / "chunks.jsonl").write_text(json.dumps(row) + "\n")
    legacy = BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25")
    assert (legacy.size(), legacy.generation()) == (1, None)


def test_unreadable_bm25_index_counts_as_empty(tmp_path: Path) -> None:
    (tmp_path / "bm25").mkdir()
    (tmp_path / "bm25" / "chunks.jsonl").write_text("{broken\n")
    broken = BM25Retriever(BM25Retriever.Params(), index_dir=tmp_path / "bm25")
    assert (broken.size(), broken.generation()) == (0, None)


def _bm25_file(config: PipelineConfig) -> Path:
    return next(Path(config.resolve_path(config.ingest.state_dir)).glob("bm25-*")) / "chunks.jsonl"


@pytest.mark.parametrize("reopen_with", ["search", "ingest"])
def test_index_committed_at_an_older_generation_is_rebuilt_even_when_counts_match(
    make_config: MakeConfig, docs_dir: Path, reopen_with: str
) -> None:
    config = make_config(retrieval=HYBRID)
    build_pipeline(config).ingest([docs_dir])
    saved = _bm25_file(config).read_bytes()
    lora = docs_dir / "lora.md"
    lora.write_text(lora.read_text().replace("matrices", "tensors"), encoding="utf-8")  # same chunk ids
    build_pipeline(config).ingest([docs_dir])
    _bm25_file(config).write_bytes(saved)  # as if killed after the manifest save, before the commit
    pipeline = build_pipeline(config)
    assert pipeline.index_drift() == [
        "BM25Retriever: it was committed at generation 1, the sync manifest is at generation 2"
    ]
    if reopen_with == "ingest":
        assert pipeline.ingest([docs_dir]).files_unchanged == 3
    bm25 = pipeline.retrievers[1]
    pipeline.search("tensors")
    assert bm25.retrieve("matrices", depth=5) == []
    assert [h.chunk.source for h in bm25.retrieve("tensors", depth=5)] == [lora.resolve().as_posix()]
    assert pipeline.index_drift() == []


def test_store_dropped_by_hand_empties_the_sparse_index(make_config: MakeConfig, docs_dir: Path) -> None:
    config = make_config(retrieval=HYBRID)
    build_pipeline(config).ingest([docs_dir])
    for suffix in (".npz", ".json"):
        (config.base_dir / "state" / f"store{suffix}").unlink()
    (docs_dir / "lora.md").unlink()
    pipeline = build_pipeline(config)
    pipeline.ingest([docs_dir])
    assert pipeline.retrievers[1].size() == pipeline.store.count()
    assert all("lora" not in h.chunk.source for h in pipeline.retrievers[1].retrieve("low-rank", depth=5))


class Killed(BaseException):
    """Stands in for SIGKILL in-process (nothing catches it)."""


def _die_at(point: str) -> Callable[[str], None]:
    def crash(name: str) -> None:
        if name == point:
            raise Killed(name)

    return crash


def test_rebuild_killed_in_its_first_batch_revives_no_old_entry(
    make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(retrieval=HYBRID)
    build_pipeline(config).ingest([docs_dir])
    monkeypatch.setattr(runner, "crash_point", _die_at("upsert"))
    pipeline = build_pipeline(config)
    with pytest.raises(Killed):
        pipeline.ingest([docs_dir], rebuild=True)
    left = Manifest.load(pipeline.manifest_path())
    assert left.sources and all(e.content_hash == "" for e in left.sources.values())  # all re-ingested
    monkeypatch.undo()
    fresh = build_pipeline(config)
    report = fresh.ingest([docs_dir])
    assert report.files_unchanged == 0 and report.chunks_added == fresh.store.count() > 0
    assert fresh.index_drift() == []


def test_crash_point_is_inert_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[int] = []
    monkeypatch.setattr(crashpoints.os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.delenv(crashpoints.ENV, raising=False)
    crashpoints.crash_point("upsert")
    monkeypatch.setenv(crashpoints.ENV, "delete:2")
    monkeypatch.setattr(crashpoints, "_seen", {})
    crashpoints.crash_point("upsert")
    crashpoints.crash_point("delete")
    assert killed == []
    crashpoints.crash_point("delete")
    assert len(killed) == 1


def test_memory_store_killed_between_its_two_files_keeps_the_last_complete_write(
    make_config: MakeConfig, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(retrieval=HYBRID)
    build_pipeline(config).ingest([docs_dir])
    sidecar = config.base_dir / "state" / "store.json"
    before: list[bytes] = []

    def torn(name: str) -> None:
        if name == "journal":
            before.append(sidecar.read_bytes())
        if name == "upsert":  # the new .npz landed, the new .json did not
            sidecar.write_bytes(before[0])
            raise Killed(name)

    monkeypatch.setattr(runner, "crash_point", torn)
    (docs_dir / "new.md").write_text("# New\n\nA fresh note about dropout.\n", encoding="utf-8")
    with pytest.raises(Killed):
        build_pipeline(config).ingest([docs_dir])
    monkeypatch.undo()
    reopened = build_pipeline(config)
    report = reopened.ingest([docs_dir])  # no "re-ingest with --rebuild": the previous pair is read
    assert (report.files_failed, report.files_new + report.files_changed) == (0, 1)  # journaled: "changed"
    assert reopened.search("dropout", top_k=1)[0].chunk.source.endswith("new.md")
    assert reopened.index_drift() == []
