"""Copy an index between store backends without re-embedding (``rag migrate``).

The source pipeline's store is read back with ``export()`` (vectors + chunks),
written to the target pipeline's store in batches, and the sync manifest is
copied to the target's manifest path, so the next ``rag ingest`` against the
target is incremental. Secondary indexes the target keeps in sync (BM25) are
fed the same chunks. The copy is verified by counts and by using a random
sample of the stored vectors as queries against both stores: their top ids
must agree.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rag_app.errors import ConfigError, FingerprintMismatchError, InputError
from rag_app.ingest.manifest import Manifest
from rag_app.readable import value_text

if TYPE_CHECKING:
    from rag_app.pipeline import Pipeline

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
_FP_KEYS = ("embedder", "dimension", "normalized", "chunker")


@dataclass
class MigrationReport:
    """What ``migrate`` copied and how the copy was verified."""

    source: str
    target: str
    chunks_copied: int = 0
    source_count: int = 0
    target_count: int = 0
    manifest: str | None = None
    sampled: int = 0
    sample_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        counts_ok = self.source_count == self.target_count == self.chunks_copied
        return counts_ok and not self.sample_mismatches

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def migrate(
    source: Pipeline,
    target: Pipeline,
    *,
    batch_size: int = 256,
    sample: int = 20,
    top_k: int = 5,
    replace: bool = False,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> MigrationReport:
    """Copy ``source``'s collection into ``target``'s store and verify it.

    Raises:
        InputError: the source is empty, both configs name the same store, or the
            target already holds chunks and ``replace`` is false.
        FingerprintMismatchError: the configs use different embedders or chunkers.
    """
    start = time.perf_counter()
    if source.manifest_path() == target.manifest_path():
        raise InputError("--from and --to point at the same store; pick a different target store block")
    fingerprint = _source_fingerprint(source)
    _check_target_config(target, fingerprint)
    dimension = int(str(fingerprint["dimension"]))
    report = MigrationReport(source=_describe(source), target=_describe(target))
    report.source_count = source.store.count()
    _prepare_target(target, replace)
    source.store.open(dimension, fingerprint)
    target.store.open(dimension, fingerprint)
    listeners = target.listeners()
    rng = random.Random(seed)
    reservoir: list[tuple[str, list[float]]] = []
    for chunks, vectors in source.store.export(batch_size):
        target.store.upsert(chunks, vectors)
        for listener in listeners:
            listener.on_upsert(chunks)
        for chunk, vector in zip(chunks, vectors, strict=True):
            _sample(reservoir, sample, report.chunks_copied, (chunk.chunk_id, vector), rng)
            report.chunks_copied += 1
        if progress is not None:
            progress(report.chunks_copied, report.source_count)
    report.manifest = _copy_manifest(source, target)
    generation = Manifest.load(target.manifest_path()).generation
    for listener in listeners:  # after the manifest: stamped with the generation the copy got
        listener.commit(generation)
    report.target_count = target.store.count()
    report.sampled = len(reservoir)
    report.sample_mismatches = _verify(source, target, reservoir, top_k)
    report.seconds = round(time.perf_counter() - start, 3)
    logger.info("migrated %d chunks (%s -> %s) in %.1f s", report.chunks_copied, report.source,
                report.target, report.seconds)
    return report


def _describe(pipeline: Pipeline) -> str:
    return f"{pipeline.config.store.type} store of pipeline {pipeline.config.name!r}"


def _source_fingerprint(source: Pipeline) -> dict[str, object]:
    fingerprint = source.store.fingerprint()
    if fingerprint is None:
        raise InputError(f"the {_describe(source)} is empty or missing; nothing to migrate")
    if not fingerprint or "dimension" not in fingerprint:
        raise ConfigError(f"the {_describe(source)} has no rag_app fingerprint; it cannot be migrated")
    return fingerprint


def _check_target_config(target: Pipeline, fingerprint: dict[str, object]) -> None:
    """The target config must describe the same vectors: vectors are copied, not re-embedded."""
    wanted = target.fingerprint()
    diffs = [f"{k} {value_text(fingerprint.get(k))} vs {value_text(wanted.get(k))}" for k in _FP_KEYS
             if fingerprint.get(k) != wanted.get(k)]
    if diffs:
        raise FingerprintMismatchError(
            f"the target config differs from the source collection ({'; '.join(diffs)}); migrate copies vectors "
            "without re-embedding, so use the same embedder and chunker blocks and change only store:"
        )


def _prepare_target(target: Pipeline, replace: bool) -> None:
    if target.store.fingerprint() is None:
        return
    count = target.store.count()
    if count and not replace:
        raise InputError(
            f"the {_describe(target)} already holds {count} chunks; pass --replace to drop it before copying"
        )
    target.store.drop()
    target.collection.clear_indexes()


def _sample(reservoir: list[tuple[str, list[float]]], size: int, seen: int,
            item: tuple[str, list[float]], rng: random.Random) -> None:
    """Reservoir sampling: every stored vector is equally likely to be a verification query."""
    if len(reservoir) < size:
        reservoir.append(item)
    elif size:
        slot = rng.randrange(seen + 1)
        if slot < size:
            reservoir[slot] = item


def _copy_manifest(source: Pipeline, target: Pipeline) -> str | None:
    src = source.manifest_path()
    if not src.exists():
        logger.warning("no sync manifest at %s; the next ingest into the target re-embeds everything", src)
        return None
    manifest = Manifest.load(src)
    manifest.path = target.manifest_path()
    manifest.save()
    return str(manifest.path)


def _verify(source: Pipeline, target: Pipeline, queries: Sequence[tuple[str, list[float]]], top_k: int) -> list[str]:
    """Stored vectors used as queries must return the same top ids from both stores."""
    problems = []
    for chunk_id, vector in queries:
        want = source.store.search(vector, top_k)
        got = target.store.search(vector, top_k)
        want_ids, got_ids = [h.chunk.chunk_id for h in want], [h.chunk.chunk_id for h in got]
        if want_ids == got_ids:
            continue
        # Near-equal scores may legitimately swap places between engines (float32 rounding).
        close = len(want) == len(got) and all(abs(a.score - b.score) < 1e-4 for a, b in zip(want, got, strict=True))
        if not (close and set(want_ids) == set(got_ids)):
            problems.append(f"query {chunk_id}: source {want_ids} vs target {got_ids}")
    return problems
