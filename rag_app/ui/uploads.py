"""Storing uploaded files safely (pure functions, no Streamlit).

A browser-supplied file name is never trusted: only its last path component
is kept, reduced to a conservative character set, and the final path is
checked to lie directly inside the uploads folder. Files are written under a
temporary name and renamed into place, so a half-written upload is never
ingested.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag_app.atomic import AtomicFile
from rag_app.config import DEFAULT_LOADERS, PipelineConfig
from rag_app.errors import InputError, one_line

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w. -]+")  # \w: letters and digits of any script, and _
_RUNS = re.compile(r"[_ ]{2,}")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class UploadError(InputError):
    """An uploaded file was refused (type, size, or an unusable name)."""


@dataclass(frozen=True)
class UploadPolicy:
    """What may be uploaded: extensions (lower case, with the dot) and a size cap in bytes."""

    extensions: frozenset[str]
    max_bytes: int

    def accept_types(self) -> list[str]:
        """Extensions without the dot, sorted (what ``st.file_uploader(type=...)`` wants)."""
        return sorted(ext.lstrip(".") for ext in self.extensions)


def policy_for(config: PipelineConfig, max_mb: float | None = None) -> UploadPolicy:
    """The extensions this config has loaders for, and the smaller of its and the UI's size caps."""
    extensions = {ext.lower() for ext in DEFAULT_LOADERS} | {ext.lower() for ext in config.sources.loaders}
    limit_mb = config.sources.max_file_mb if max_mb is None else min(max_mb, config.sources.max_file_mb)
    return UploadPolicy(frozenset(e for e in extensions if e.startswith(".")), int(limit_mb * 2**20))


def sanitize_filename(name: str) -> str:
    """A safe file name derived from an untrusted one (never a path, never hidden, never empty).

    ``"../../evil.md"`` becomes ``"evil.md"``; ``"..\\\\x\\\\notes.MD"`` becomes ``"notes.MD"``;
    a stem with nothing safe left (``"😀.md"``) becomes ``"upload.md"``.

    Raises:
        UploadError: the name has no extension (``".bashrc"`` has none) or nothing usable is left.
    """
    base = _last_component(unicodedata.normalize("NFKC", name))
    base = "".join(ch for ch in base if ch.isprintable())
    stem, dot, ext = base.rpartition(".")
    ext = _UNSAFE.sub("", ext)[:16] if dot and stem.strip(" ._-") else ""
    if not ext:
        raise UploadError(f"{name!r}: the file name has no extension, so its type is unknown")
    stem = _RUNS.sub("_", _UNSAFE.sub("_", stem)).strip(" ._-")
    if not stem or stem.lower() in _RESERVED:
        stem = f"upload_{stem}" if stem else "upload"
    return f"{stem[: MAX_NAME_CHARS - len(ext) - 1]}.{ext}"


def stored_name(name: str) -> str:
    """The name an upload is stored under: :func:`sanitize_filename`, made unique when it is lossy.

    A name that sanitises to itself is stored as is, so uploading ``notes.md``
    again replaces the earlier ``notes.md`` (an update). A name that had to be
    changed gets a short hash of the original name (``report?.md`` ->
    ``report-1f0c9a2e.md``), so two different names never share one file,
    while the same original name still maps to the same file.
    """
    safe = sanitize_filename(name)
    original = unicodedata.normalize("NFC", _last_component(name))
    if safe == original:
        return safe
    return _tagged(safe, hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:8])


def _last_component(name: str) -> str:
    return re.split(r"[\\/]", name)[-1]


def _tagged(safe: str, tag: str) -> str:
    stem, _, ext = safe.rpartition(".")
    return f"{stem[: MAX_NAME_CHARS - len(ext) - len(tag) - 2]}-{tag}.{ext}"


def validate_upload(name: str, size: int, policy: UploadPolicy) -> str:
    """Check type and size; returns the sanitised name.

    Raises:
        UploadError: wrong type, empty, or over the size cap.
    """
    safe = sanitize_filename(name)
    ext = Path(safe).suffix.lower()
    if ext not in policy.extensions:
        allowed = ", ".join(sorted(policy.extensions))
        raise UploadError(f"{safe}: '{ext}' files cannot be ingested by this pipeline (allowed: {allowed})")
    if size <= 0:
        raise UploadError(f"{safe}: the file is empty")
    if size > policy.max_bytes:
        raise UploadError(
            f"{safe}: {size / 2**20:.1f} MB is over the {policy.max_bytes / 2**20:.0f} MB upload limit"
        )
    return safe


def target_path(uploads_dir: Path, safe_name: str) -> Path:
    """``uploads_dir / safe_name``, verified to be a plain name directly inside ``uploads_dir``.

    The last component is not resolved: an existing symlink there is replaced, never written through.

    Raises:
        UploadError: the name is not a plain file name (defence in depth; sanitised names always are).
    """
    root = uploads_dir.resolve()
    plain = safe_name not in ("", ".", "..") and not any(c in safe_name for c in "/\\\x00")
    path = root / safe_name
    if not plain or path.parent != root:
        raise UploadError(f"{safe_name!r}: refused, it would be stored outside {root}")
    return path


def save_upload(uploads_dir: Path, name: str, data: bytes, policy: UploadPolicy) -> Path:
    """Validate and store one upload under :func:`stored_name`; an earlier upload of that name is replaced.

    Returns:
        The absolute path written (inside ``uploads_dir``).

    Raises:
        UploadError: the upload was refused (nothing is written).
    """
    validate_upload(name, len(data), policy)
    return _write(uploads_dir, stored_name(name), data)


@dataclass
class SavedUploads:
    """What :func:`save_uploads` did with one batch of uploads."""

    received: int
    saved: list[Path] = field(default_factory=list)
    """Distinct files written, in upload order."""
    refused: list[str] = field(default_factory=list)
    """One line per upload that was not stored."""
    notes: list[str] = field(default_factory=list)
    """One line per upload stored under another name, or stored once for several identical uploads."""


def save_uploads(uploads_dir: Path, uploads: Sequence[tuple[str, bytes]], policy: UploadPolicy) -> SavedUploads:
    """Store a batch of ``(name, data)`` uploads; no upload overwrites a different one of the same batch.

    Two uploads that end up with one stored name (``a/notes.md`` and
    ``b/notes.md``) are stored once when their bytes are equal, else the later
    one gets a hash of its content in its name.
    """
    out = SavedUploads(received=len(uploads))
    taken: dict[str, str] = {}  # stored name -> content digest, in this batch
    for name, data in uploads:
        try:
            validate_upload(name, len(data), policy)
            target = stored_name(name)
            digest = hashlib.sha256(data).hexdigest()
            if target in taken and taken[target] != digest:
                target = _tagged(target, digest[:8])
            if taken.get(target) == digest:
                out.notes.append(f"{name}: identical to another upload in this batch; stored once as {target}")
                continue
            path = _write(uploads_dir, target, data)
        except UploadError as exc:
            out.refused.append(one_line(exc))
            continue
        except OSError as exc:
            out.refused.append(f"{name}: cannot be stored ({exc.strerror})")
            continue
        taken[target] = digest
        out.saved.append(path)
        if target != unicodedata.normalize("NFC", _last_component(name)):
            out.notes.append(f"{name}: stored as {target}")
    return out


def _write(uploads_dir: Path, safe_name: str, data: bytes) -> Path:
    """Write ``data`` to ``uploads_dir / safe_name`` atomically (temp file + rename)."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    path = target_path(uploads_dir, safe_name)
    with AtomicFile(path, binary=True, prefix=".upload-", suffix=".part") as fh:  # replaces a symlink itself
        fh.write(data)
    return path


def stored_upload(uploads_dir: Path, source: str) -> Path | None:
    """The uploaded file behind an ingested ``source``, if it lies inside ``uploads_dir``."""
    root = uploads_dir.resolve()
    path = Path(source)
    try:
        resolved = path.resolve()
    except OSError:
        return None
    return resolved if resolved.parent == root and resolved.is_file() else None


def describe_sources(sources: Iterable[str], base: Path) -> dict[str, str]:
    """Short labels for document sources: relative to ``base`` where possible."""
    labels: dict[str, str] = {}
    for source in sources:
        try:
            labels[source] = Path(source).relative_to(base).as_posix()
        except ValueError:
            labels[source] = source
    return labels
