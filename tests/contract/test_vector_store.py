"""The VectorStore contract: every store backend must pass all of it.

Vectors are small and hand-made so the expected orders and scores are exact.
Backend-specific checks (Milvus Lite locking, VARCHAR limits, the memory
store's files) are at the end.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rag_app import registry
from rag_app.errors import BackendError, ConfigError, FingerprintMismatchError, InputError
from rag_app.protocols import VectorStore
from rag_app.types import Chunk, Filter

if TYPE_CHECKING:  # the fixture's type; conftest is not importable as a module at runtime
    from tests.contract.conftest import StoreFactory

DIM = 4
FP: dict[str, object] = {
    "embedder": "test-4",
    "dimension": DIM,
    "normalized": True,
    "chunker": {"type": "fixed", "size": 100},
}
Q = [1.0, 0.0, 0.0, 0.0]


def chunk(cid: str, doc: str = "d", source: str = "s.md", text: str = "", **meta: Any) -> Chunk:
    return Chunk(chunk_id=cid, doc_id=doc, source=source, text=text or f"text of {cid}", metadata=meta)


def opened(factory: StoreFactory, **overrides: Any) -> Any:
    store = factory.make(**overrides)
    store.open(DIM, FP)
    return store


def another(factory: StoreFactory, store: Any) -> Any:
    """A second store over the same data (the same instance where instances share nothing)."""
    return factory.make() if factory.persistent else store


def ids(store: Any, filters: list[Filter] | tuple[Filter, ...] = (), top_k: int = 100) -> list[str]:
    return [r.chunk.chunk_id for r in store.search(Q, top_k, filters)]


# --------------------------------------------------------------------------- lifecycle


def test_satisfies_protocol_and_records_fingerprint(store_factory: StoreFactory) -> None:
    store = store_factory.make()
    assert isinstance(store, VectorStore)
    assert store.fingerprint() is None
    assert store.count() == 0
    store.open(DIM, FP)
    assert store.fingerprint() == FP
    assert store.count() == 0
    store.open(DIM, dict(FP))  # re-opening with the same fingerprint is fine
    assert store.search(Q, 5) == []


def test_fingerprint_mismatch_names_both(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert([chunk("a")], [Q])
    other = another(store_factory, store)
    changed = {**FP, "embedder": "other-model"}
    with pytest.raises(FingerprintMismatchError) as err:
        other.open(DIM, changed)
    message = str(err.value)
    assert "test-4" in message and "other-model" in message and "--rebuild" in message
    assert "\n" not in message
    with pytest.raises(FingerprintMismatchError, match="dimension 4 vs 8"):
        other.open(8, {**FP, "dimension": 8})
    assert other.fingerprint() == FP


def test_metric_mismatch_on_reopen(store_factory: StoreFactory) -> None:
    if not store_factory.persistent:
        pytest.skip(f"{store_factory.id}: a new instance starts empty")
    opened(store_factory)
    with pytest.raises(ConfigError, match="metric COSINE") as err:
        store_factory.make(metric="L2").open(DIM, FP)
    assert "--rebuild" in str(err.value)


def test_methods_need_open(store_factory: StoreFactory) -> None:
    store = store_factory.make()
    with pytest.raises(BackendError, match="open"):
        store.upsert([chunk("a")], [Q])
    with pytest.raises(BackendError, match="open"):
        store.search(Q, 3)


def test_drop(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert([chunk("a"), chunk("b")], [Q, Q])
    store.drop()
    assert store.count() == 0
    assert store.fingerprint() is None
    store.open(DIM, {**FP, "embedder": "new"})  # a dropped collection can be rebuilt differently
    assert store.count() == 0 and store.fingerprint() == {**FP, "embedder": "new"}


def test_persistence_across_close_and_reopen(store_factory: StoreFactory) -> None:
    if not store_factory.persistent:
        pytest.skip(f"{store_factory.id} keeps nothing after close")
    store = opened(store_factory)
    store.upsert([chunk("a", doc="d1", lang="en"), chunk("b", doc="d2")], [Q, [0.0, 1.0, 0.0, 0.0]])
    store.close()
    again = store_factory.make()
    assert again.count() == 2
    assert again.fingerprint() == FP
    again.open(DIM, FP)
    hits = again.search(Q, 1, [Filter("lang", "eq", "en")])
    assert [(h.chunk.chunk_id, h.chunk.doc_id, h.chunk.metadata) for h in hits] == [
        ("a", "d1", {"lang": "en"})
    ]
    store.open(DIM, FP)  # the first instance can be used again after close
    assert store.count() == 2


# --------------------------------------------------------------------------- upsert


def test_upsert_is_idempotent_and_updates(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    chunks = [chunk(c, doc="d1") for c in ("a", "b", "c")]
    store.upsert(chunks, [Q, Q, Q])
    store.upsert(chunks, [Q, Q, Q])
    assert store.count() == 3
    store.upsert([chunk("b", doc="d9", source="new.md", text="updated", k=1)], [[0.0, 1.0, 0.0, 0.0]])
    assert store.count() == 3
    hit = next(h for h in store.search(Q, 3) if h.chunk.chunk_id == "b")
    assert hit.chunk == Chunk("b", "d9", "new.md", "updated", {"k": 1})
    assert hit.score == pytest.approx(0.0, abs=1e-6)


def test_upsert_batches_and_duplicate_ids_last_wins(store_factory: StoreFactory) -> None:
    store = opened(store_factory, batch_size=2)
    chunks = [chunk(f"c{i}") for i in range(5)] + [chunk("c0", text="second")]
    store.upsert(chunks, [Q] * 6)
    assert store.count() == 5
    assert next(h for h in store.search(Q, 10) if h.chunk.chunk_id == "c0").chunk.text == "second"


def test_upsert_rejects_bad_input_before_writing(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert([chunk("keep")], [Q])
    with pytest.raises(InputError, match="vector has 3 dims, collection expects 4"):
        store.upsert([chunk("a"), chunk("b")], [Q, [1.0, 0.0, 0.0]])
    with pytest.raises(InputError, match="NaN"):
        store.upsert([chunk("a"), chunk("b")], [Q, [0.0, math.nan, 0.0, 0.0]])
    with pytest.raises(InputError, match="NaN or infinite"):
        store.upsert([chunk("a")], [[math.inf, 0.0, 0.0, 0.0]])
    with pytest.raises(InputError, match="2 chunks but 1 vectors"):
        store.upsert([chunk("a"), chunk("b")], [Q])
    with pytest.raises(InputError, match="JSON"):
        store.upsert([chunk("a", bad=object())], [Q])
    assert store.count() == 1
    assert ids(store) == ["keep"]


# --------------------------------------------------------------------------- search


def test_search_order_scores_and_deterministic_ties(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    tie = [1.0, 1.0, 0.0, 0.0]
    rows = {
        "tie_b": tie, "neg": [-1.0, 0.0, 0.0, 0.0], "tie_a": tie, "orth": [0.0, 0.0, 1.0, 0.0],
        "top": [2.0, 0.0, 0.0, 0.0], "tie_c": tie,
    }
    store.upsert([chunk(k) for k in rows], list(rows.values()))
    hits = store.search(Q, 10)
    assert [h.chunk.chunk_id for h in hits] == ["top", "tie_a", "tie_b", "tie_c", "orth", "neg"]
    root_half = math.sqrt(0.5)
    expected = [1.0, root_half, root_half, root_half, 0.0, -1.0]
    assert [h.score for h in hits] == pytest.approx(expected, abs=1e-5)
    assert ids(store, top_k=2) == ["top", "tie_a"]
    assert hits[0].chunk == Chunk("top", "d", "s.md", "text of top", {})


def test_ties_beyond_the_first_window_are_still_by_id(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    names = [f"t{i:02d}" for i in range(40)][::-1]
    store.upsert([chunk(n) for n in names], [Q] * len(names))
    assert ids(store, top_k=3) == ["t00", "t01", "t02"]


def test_top_k_larger_than_count_and_bad_top_k(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert([chunk("a"), chunk("b")], [Q, [0.0, 1.0, 0.0, 0.0]])
    assert ids(store, top_k=50) == ["a", "b"]
    for bad in (0, -1, 10**9):
        with pytest.raises(InputError, match="top_k"):
            store.search(Q, bad)


def test_search_rejects_wrong_dimension_and_nan(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    with pytest.raises(InputError, match="query vector has 5 dims, collection expects 4"):
        store.search([1.0, 0, 0, 0, 0], 3)
    with pytest.raises(InputError, match="NaN"):
        store.search([math.nan, 0, 0, 0], 3)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("COSINE", [("q", 1.0), ("p", 0.6)]),
        ("IP", [("p", 3.0), ("q", 1.0)]),
        ("L2", [("q", 0.0), ("p", -20.0)]),  # squared distance, negated
    ],
)
def test_metrics(store_factory: StoreFactory, metric: str, expected: list[tuple[str, float]]) -> None:
    store = opened(store_factory, metric=metric)
    store.upsert([chunk("p"), chunk("q")], [[3.0, 4.0, 0.0, 0.0], Q])
    hits = store.search(Q, 5)
    assert [h.chunk.chunk_id for h in hits] == [c for c, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-5)


# --------------------------------------------------------------------------- filters

ROWS = [
    chunk("r1", doc="d1", source="a.md", lang="en", year=2020, score=0.5, flag=True),
    chunk("r2", doc="d1", source="a.md", lang="de", year=2021, score=1.5, flag=False),
    chunk("r3", doc="d2", source="b.md", lang="en", year=2022, score=2.5),
    chunk("r4", doc="d3", source="c.md", lang="fr", year=2019, score=-1.0, flag=True),
    chunk("r5", doc="d3", source="c.md"),
]
F = Filter
FILTER_CASES: list[tuple[list[Filter], set[str]]] = [
    ([F("doc_id", "eq", "d1")], {"r1", "r2"}),
    ([F("doc_id", "ne", "d1")], {"r3", "r4", "r5"}),
    ([F("doc_id", "in", ["d2", "d3"])], {"r3", "r4", "r5"}),
    ([F("doc_id", "in", ("d2",))], {"r3"}),
    ([F("doc_id", "in", [])], set()),
    ([F("doc_id", "gt", "d1")], {"r3", "r4", "r5"}),
    ([F("source", "eq", "c.md")], {"r4", "r5"}),
    ([F("source", "lte", "b.md")], {"r1", "r2", "r3"}),
    ([F("source", "lt", "b.md")], {"r1", "r2"}),
    ([F("source", "gte", "b.md")], {"r3", "r4", "r5"}),
    ([F("lang", "eq", "en")], {"r1", "r3"}),
    ([F("lang", "ne", "en")], {"r2", "r4"}),  # r5 has no lang: never matches
    ([F("lang", "in", ["de", "fr"])], {"r2", "r4"}),
    ([F("lang", "in", [])], set()),
    ([F("lang", "gt", "e")], {"r1", "r3", "r4"}),
    ([F("year", "gt", 2020)], {"r2", "r3"}),
    ([F("year", "gte", 2020)], {"r1", "r2", "r3"}),
    ([F("year", "lt", 2020)], {"r4"}),
    ([F("year", "lte", 2019)], {"r4"}),
    ([F("year", "eq", 2021)], {"r2"}),
    ([F("year", "gt", 2020.5)], {"r2", "r3"}),
    ([F("year", "in", [2019, 2022])], {"r3", "r4"}),
    ([F("score", "eq", 2.5)], {"r3"}),
    ([F("score", "gt", 0.5)], {"r2", "r3"}),
    ([F("score", "gte", 0.5)], {"r1", "r2", "r3"}),
    ([F("score", "lt", 0)], {"r4"}),
    ([F("score", "lte", 1.5)], {"r1", "r2", "r4"}),
    ([F("flag", "eq", True)], {"r1", "r4"}),
    ([F("flag", "eq", False)], {"r2"}),
    ([F("flag", "ne", True)], {"r2"}),
    ([F("year", "eq", "2020")], set()),  # a string never equals a number
    ([F("lang", "gt", 5)], set()),  # ordering across kinds never matches
    ([F("missing", "eq", "x")], set()),
    ([F("missing", "ne", "x")], set()),
    ([F("doc_id", "eq", "d1"), F("lang", "eq", "en")], {"r1"}),
    ([F("year", "gte", 2020), F("doc_id", "ne", "d2")], {"r1", "r2"}),
]


def string_ranges(store: Any) -> bool:
    """Whether the store filters strings with gt/gte/lt/lte (Pinecone: numbers only)."""
    return bool(type(store).capabilities["range_filters"] != "numbers only")


def is_string_range(filters: list[Filter]) -> bool:
    return any(f.op in ("gt", "gte", "lt", "lte") and isinstance(f.value, str) for f in filters)


def rejects(store: Any, filters: list[Filter]) -> bool:
    """A numbers-only store must refuse a string range with an InputError, never answer wrongly."""
    try:
        store.search(Q, 5, filters)
    except InputError as exc:
        return "only numbers" in str(exc)
    return False


def test_filters(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert(ROWS, [Q] * len(ROWS))
    failures = []
    for filters, expected in FILTER_CASES:
        if is_string_range(filters) and not string_ranges(store):
            if not rejects(store, filters):
                failures.append(f"{filters}: a string range was not rejected")
            continue
        got = set(ids(store, filters))
        if got != expected:
            failures.append(f"{filters}: got {sorted(got)}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


HOSTILE = [
    "it's", 'say "hi"', "back\\slash", '" or 1==1 or "', "' or 1==1 or '", '") or (1==1',
    "line1\nline2", "cr\rlf", "tab\there", "naïve 東京 🙂", "trailing\\", '\\"', "a\\nb", "%s{0}$x", "", " ",
]


def test_hostile_filter_values_match_exactly(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    rows = [chunk(f"h{i:02d}", doc=v, source=v, title=v) for i, v in enumerate(HOSTILE)]
    rows.append(chunk("plain", doc="plain", source="plain", title="plain"))
    store.upsert(rows, [Q] * len(rows))
    by_value = {c.doc_id: c.chunk_id for c in rows}
    failures = []
    for value in [*HOSTILE, "plain"]:
        me = {by_value[value]}
        checks = [(F(field, "eq", value), me) for field in ("doc_id", "source", "title")]
        checks += [
            (F("title", "ne", value), set(by_value.values()) - me),
            (F("doc_id", "in", [value, "plain"]), me | {"plain"}),
            (F("title", "in", [value, "plain"]), me | {"plain"}),
            (F("title", "gt", value), {c.chunk_id for c in rows if c.metadata["title"] > value}),
            (F("source", "lte", value), {c.chunk_id for c in rows if c.source <= value}),
        ]
        for flt, expected in checks:
            if is_string_range([flt]) and not string_ranges(store):
                if not rejects(store, [flt]):
                    failures.append(f"{flt!r}: a string range was not rejected")
                continue
            got = set(ids(store, [flt]))
            if got != expected:
                failures.append(f"{flt!r}: got {sorted(got)}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


def test_filter_values_are_typed_by_the_stored_field_type(store_factory: StoreFactory) -> None:
    """``page`` is stored as a number: ``page="2"`` (a command line's value) matches page 2 on every store."""
    store = opened(store_factory)
    store.upsert([chunk(f"p{n}", page=n) for n in (1, 2, 3)], [Q] * 3)
    assert ids(store, [F("page", "eq", "2")]) == ["p2"]
    assert sorted(ids(store, [F("page", "gte", "2")])) == ["p2", "p3"]
    assert sorted(ids(store, [F("page", "in", ["1", "3"])])) == ["p1", "p3"]
    assert sorted(ids(store, [F("page", "ne", "2")])) == ["p1", "p3"]
    with pytest.raises(InputError, match="page is stored as a number"):
        store.search(Q, 5, [F("page", "eq", "two")])


INVALID_FILTERS = [
    F("a b", "eq", "x"), F('x"]', "eq", "x"), F("1abc", "eq", "x"), F("", "eq", "x"), F("a.b", "eq", "x"),
    F('metadata["x"]', "eq", "x"), F("x" * 65, "eq", "x"), F("lang", "like", "x"), F("lang", "eq", None),
    F("lang", "eq", ["x"]), F("lang", "in", "en"), F("lang", "in", [None]), F("flag", "gt", True),
    F("year", "eq", math.nan), F("year", "lt", math.inf), F("doc_id", "eq", 3), F("lang", "eq", {"a": 1}),
    F("year", "eq", 2**70),
]


def test_invalid_filters_rejected(store_factory: StoreFactory) -> None:
    store = opened(store_factory)
    store.upsert(ROWS[:1], [Q])
    accepted = []
    for flt in INVALID_FILTERS:
        try:
            store.search(Q, 5, [flt])
        except InputError:
            continue
        accepted.append(repr(flt))
    assert not accepted, f"accepted: {accepted}"


# --------------------------------------------------------------------------- delete


def test_delete_by_ids(store_factory: StoreFactory) -> None:
    store = opened(store_factory, batch_size=2)
    odd = ["it's", 'q"uote', "b\\s", "x' or '1'=='1"]
    names = ["a", "b", "c", *odd]
    store.upsert([chunk(n) for n in names], [Q] * len(names))
    store.delete(["b", "nope", *odd[:3]])
    assert store.count() == 3
    assert ids(store) == ["a", "c", "x' or '1'=='1"]
    store.delete([])
    store.delete(iter(["a"]))
    assert ids(store) == ["c", "x' or '1'=='1"]
    with pytest.raises(InputError, match="string ids"):
        store.delete([1])  # type: ignore[list-item]


# --------------------------------------------------------------------------- export (used by rag migrate)


def test_export_returns_every_chunk_and_vector(store_factory: StoreFactory) -> None:
    store = opened(store_factory, metric="IP")
    rows = [chunk(f"e{i:02d}", doc=f"d{i % 3}", n=i, tags=["a", "b"], nested={"k": None}) for i in range(7)]
    vectors = [[float(i), 1.0, -0.5, 0.25] for i in range(7)]
    store.upsert(rows, vectors)
    got: dict[str, tuple[Chunk, list[float]]] = {}
    for chunks, vecs in store.export(batch_size=3):
        assert len(chunks) == len(vecs) <= 3
        got.update({c.chunk_id: (c, v) for c, v in zip(chunks, vecs, strict=True)})
    assert sorted(got) == [c.chunk_id for c in rows]
    for row, vec in zip(rows, vectors, strict=True):
        assert got[row.chunk_id][0] == row
        assert got[row.chunk_id][1] == pytest.approx(vec, abs=1e-6)


def test_every_store_declares_capabilities(store_factory: StoreFactory) -> None:
    keys = {"filter_ops", "range_filters", "sparse_hybrid", "max_batch", "max_top_k", "consistency", "persistence"}
    caps = type(store_factory.make()).capabilities
    assert set(caps) == keys and all(isinstance(v, str) and v for v in caps.values())
    assert caps["filter_ops"].split() == ["eq", "ne", "in", "gt", "gte", "lt", "lte"]


# --------------------------------------------------------------------------- Milvus specifics


def _lite(tmp_path: Path, name: str = "own.db", **params: Any) -> Any:
    pytest.importorskip("pymilvus")
    return registry.create("store", "milvus", {"uri": name, **params}, base_dir=tmp_path)


def test_milvus_lite_close_releases_the_file(tmp_path: Path) -> None:
    from rag_app.backends.stores.milvus import lite as _milvus_lite

    path = tmp_path / "sub" / "own.db"
    store = _lite(tmp_path, "sub/own.db")
    store.open(DIM, FP)
    store.upsert([chunk("a")], [Q])
    assert _milvus_lite._locked_elsewhere(path)  # held by this process' Lite server
    store.close()
    assert not _milvus_lite._locked_elsewhere(path)
    again = _lite(tmp_path, "sub/own.db")
    try:
        assert again.count() == 1 and again.fingerprint() == FP
    finally:
        again.close()


def test_milvus_lite_file_locked_by_another_process(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "locked.db"
    path.mkdir()
    with open(path / "LOCK", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another process would hold
        store = _lite(tmp_path, "locked.db")
        with pytest.raises(BackendError, match="another process") as err:
            store.open(DIM, FP)
    assert "milvus-lite server" in str(err.value) and str(path) in str(err.value)


def test_milvus_unreachable_server_is_one_line() -> None:
    pytest.importorskip("pymilvus")
    store = registry.create("store", "milvus", {"uri": "http://127.0.0.1:1", "timeout_s": 2})
    with pytest.raises(BackendError, match=r"http://127\.0\.0\.1:1") as err:
        store.fingerprint()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"collection": "bad-name"}, "collection"),
        ({"collection": "1abc"}, "collection"),
        ({"uri": "store.sqlite"}, "uri"),
        ({"index_type": "DISKANN"}, "index_type"),
        ({"metrik": "L2"}, "unknown key 'metrik'"),
    ],
)
def test_milvus_params_validated(params: dict[str, Any], match: str) -> None:
    pytest.importorskip("pymilvus")
    with pytest.raises(ConfigError, match=match):
        registry.create("store", "milvus", params)


def test_milvus_text_over_varchar_limit_is_input_error(store_factory: StoreFactory) -> None:
    if store_factory.backend.kind != "milvus":
        pytest.skip("VARCHAR limits are Milvus-specific")
    store = opened(store_factory)
    with pytest.raises(InputError, match="text is 65536 bytes"):
        store.upsert([chunk("ok"), chunk("big", text="x" * 65536)], [Q, Q])
    with pytest.raises(InputError, match="doc_id is 66 bytes"):  # bytes, not characters
        store.upsert([chunk("big", doc="é" * 33)], [Q])
    assert store.count() == 0


def test_milvus_hnsw_with_nested_build_params(store_factory: StoreFactory) -> None:
    if store_factory.backend.kind != "milvus":
        pytest.skip("Milvus index parameters")
    build = {"M": 8, "efConstruction": 64}
    store = opened(store_factory, index_type="HNSW", index_params=build, search_params={"ef": 32})
    store.upsert([chunk("a"), chunk("b")], [Q, [0.0, 1.0, 0.0, 0.0]])
    assert ids(store) == ["a", "b"]
    index = store._connect().describe_index(store._name, "vector")
    assert (index["index_type"], str(index["params"]["M"])) == ("HNSW", "8")


def test_milvus_literal_round_trips_through_the_lite_parser() -> None:
    tokens = pytest.importorskip("milvus_lite.search.filter.tokens")
    from rag_app.backends.stores.milvus.expressions import milvus_literal

    for value in [*HOSTILE, "\x01ctl", "\u2028"]:
        lexed = tokens.tokenize(f"doc_id == {milvus_literal(value)}")
        assert [t.value for t in lexed if t.kind == tokens.TokenKind.STRING] == [value]
        assert len(lexed) == 4  # doc_id, ==, the string, EOF: nothing leaked out of the quotes


# --------------------------------------------------------------------------- memory specifics


def test_memory_files_are_plain_and_torn_pairs_detected(tmp_path: Path) -> None:
    import json

    import numpy as np

    store = registry.create("store", "memory", {"path": "idx/chunks"}, base_dir=tmp_path)
    store.open(DIM, FP)
    store.upsert([chunk("a", lang="en")], [Q])
    npz, sidecar = tmp_path / "idx" / "chunks.npz", tmp_path / "idx" / "chunks.json"
    with np.load(npz, allow_pickle=False) as data:
        assert data["vectors"].shape == (1, DIM)
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    assert meta["fingerprint"] == FP and meta["chunks"][0]["metadata"] == {"lang": "en"}
    # no temp files left; .npz.prev completes the previous pair if a kill lands between the two files
    assert sorted(p.name for p in npz.parent.iterdir()) == ["chunks.json", "chunks.npz", "chunks.npz.prev"]
    meta["generation"] += 1
    sidecar.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BackendError, match="do not match"):
        registry.create("store", "memory", {"path": "idx/chunks"}, base_dir=tmp_path).count()
