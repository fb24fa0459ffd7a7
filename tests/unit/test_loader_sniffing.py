"""Text loaders refuse binary content by its bytes; odd but valid names still load."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_app.config import PipelineConfig
from rag_app.errors import InputError
from rag_app.pipeline import build_pipeline
from tests.unit.test_loaders import load, make_pdf

MakeConfig = Callable[..., PipelineConfig]


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document>hello</w:document>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.txt", make_pdf(["secret"], password="pw"), "its content is a PDF; rename it to .pdf"),
        ("paper.md", make_pdf(["plain"]), "its content is a PDF"),
        ("report.txt", zip_bytes(), "its content is a ZIP archive"),
        ("noise.txt", random.Random(7).randbytes(4096), "not a text file ("),
        ("nul.md", b"# Title\n\nAlmost text\x00 with one NUL byte.\n" * 10, "it contains NUL bytes"),
        ("ctl.txt", b"readable words " * 20 + bytes(range(1, 9)) * 10, "control characters"),
    ],
)
def test_binary_content_is_refused_whatever_the_extension(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        load(path, source=f"x/{name}")
    message = str(info.value)
    assert message.startswith(f"x/{name}: not a text file (") and reason in message and "\n" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Текст на русском языке о внимании.\n".encode("cp1251"), "Текст на русском"),
        ("\ufeffUTF-16 text with a byte-order mark.\n".encode("utf-16-le"), "UTF-16 text"),
        ("UTF-16 big endian text.\n".encode("utf-16"), "big endian"),
        (b"The header of a PDF is %PDF-1.7, then objects follow.\n", "%PDF-1.7"),
        ("Les élèves aiment le café.\n".encode("latin-1"), "café"),
    ],
)
def test_text_in_other_encodings_and_text_about_binaries_still_loads(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    path = tmp_path / "ok.txt"
    path.write_bytes(data)
    (doc,) = load(path)
    assert expected in doc.text


def test_an_encrypted_pdf_named_txt_is_one_failed_line_in_the_ingest(make_config: MakeConfig, docs_dir: Path) -> None:
    (docs_dir / "locked.txt").write_bytes(make_pdf(["secret"], password="pw"))
    report = build_pipeline(make_config()).ingest([docs_dir])
    assert (report.files_new, report.files_failed) == (3, 1)
    (error,) = report.errors
    assert error["source"] == "locked.txt" and "locked.txt: not a text file (its content is a PDF" in error["error"]


def test_a_file_named_with_an_emoji_is_ingested(make_config: MakeConfig, docs_dir: Path) -> None:
    (docs_dir / "😀.md").write_text("# Smile\n\nEmoji-named notes about mixture of experts.\n", encoding="utf-8")
    pipeline = build_pipeline(make_config())
    report = pipeline.ingest([docs_dir])
    assert (report.files_new, report.files_failed) == (4, 0)
    assert any(d["source"].endswith("/😀.md") for d in pipeline.documents())
