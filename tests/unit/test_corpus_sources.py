"""The demo corpus's PDFs and DOCX files say what their text sources in data/tools/binary_docs say."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rag_app import registry
from tests.conftest import CORPUS

TOOL = Path(__file__).resolve().parents[2] / "data" / "tools" / "make_binary_docs.py"


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_binary_docs", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def blocks_text(doc: dict[str, Any]) -> list[str]:
    """Every heading, paragraph, bullet and formula of a parsed source."""
    out = [doc["title"]]
    for heading, blocks in doc["sections"]:
        out.append(heading)
        for block in blocks:
            out += block if isinstance(block, list) else [block if isinstance(block, str) else block[1]]
    return out


DOCS = tool().documents()


def test_every_binary_document_of_the_corpus_has_a_source() -> None:
    binaries = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.suffix in (".pdf", ".docx")}
    assert binaries == {d["path"] for d in DOCS}


@pytest.mark.parametrize("doc", DOCS, ids=[d["path"] for d in DOCS])
def test_the_committed_file_holds_its_sources_text(doc: dict[str, Any]) -> None:
    path = CORPUS / doc["path"]
    loader = registry.create("loader", path.suffix.lstrip("."), {})
    loaded = squash(" ".join(d.text for d in loader.load(path, source=str(path), doc_id="x")))
    missing = [text for text in blocks_text(doc) if squash(text) not in loaded]
    assert not missing, f"{doc['path']} lacks {len(missing)} block(s), e.g. {missing[0][:80]!r}; run `make corpus`"


def test_source_format_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.pdf.md"
    bad.write_text("# heading first\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="x.pdf.md: must start with a --- title/subject --- header"):
        tool().read_source(bad)
    bad.write_text("---\ntitle: T\nsubject: S\n---\nstray paragraph\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="text before the first '# ' section heading"):
        tool().read_source(bad)
