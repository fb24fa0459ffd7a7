"""File loaders: every format of the demo corpus, hand-made edge cases, broken files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from rag_app import registry
from rag_app.config import DEFAULT_LOADERS
from rag_app.errors import ConfigError, InputError
from rag_app.protocols import Loader
from rag_app.types import Document

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "data" / "corpus"
BROKEN = REPO / "tests" / "fixtures" / "broken"
FORMATS = {".txt": "txt", ".md": "md", ".html": "html", ".pdf": "pdf", ".docx": "docx"}
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in FORMATS) if CORPUS.is_dir() else []


def loader_for(suffix: str) -> Any:
    return registry.create("loader", DEFAULT_LOADERS[suffix], {})


def load(path: Path, source: str | None = None) -> list[Document]:
    loader: Loader = loader_for(path.suffix)
    return loader.load(path, source=source or path.name, doc_id="doc1")


# --- the demo corpus -------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_every_corpus_file_loads_with_text_and_title(path: Path) -> None:
    docs = load(path, source=f"corpus/{path.name}")
    assert docs
    for doc in docs:
        assert doc.text.strip()
        assert (doc.doc_id, doc.source) == ("doc1", f"corpus/{path.name}")
        assert doc.metadata["format"] == FORMATS[path.suffix]
        assert isinstance(doc.metadata["title"], str) and doc.metadata["title"].strip()
    if path.suffix == ".pdf":
        pages = [d.metadata["page"] for d in docs]
        assert pages == sorted(set(pages)) and pages[0] >= 1
    else:
        assert len(docs) == 1 and "page" not in docs[0].metadata


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_corpus_covers_every_format(suffix: str) -> None:
    if not any(p.suffix == suffix for p in CORPUS_FILES):
        pytest.skip(f"no {suffix} files in data/corpus yet (the demo corpus is generated separately)")


@pytest.mark.parametrize("suffix", [".html", ".docx"])
def test_structured_formats_become_markdown_headings(suffix: str) -> None:
    files = [p for p in CORPUS_FILES if p.suffix == suffix]
    if not files:
        pytest.skip(f"no {suffix} files in data/corpus")
    for path in files:
        (doc,) = load(path)
        assert doc.text.startswith("# "), path
        assert "\n## " in doc.text, path


def test_every_loader_matches_the_protocol_and_default_mapping() -> None:
    for suffix, name in DEFAULT_LOADERS.items():
        loader = registry.create("loader", name, {})
        assert isinstance(loader, Loader)
        assert suffix in loader.extensions
    with pytest.raises(ConfigError, match="unknown key 'encoding'"):
        registry.validate_params("loader", "text", {"encoding": "latin-1"})


# --- broken files ----------------------------------------------------------

BROKEN_CASES = {
    "corrupt.pdf": "not a readable PDF",
    "corrupt.docx": "not a readable DOCX",
    "empty.txt": "no extractable text",
    "binary.txt": "not a text file",
    "truncated.html": "no extractable text",
}


@pytest.mark.parametrize("name", sorted(BROKEN_CASES))
def test_broken_file_raises_input_error_naming_it(name: str) -> None:
    path = BROKEN / name
    if not path.exists():
        pytest.skip(f"{path} not created yet")
    with pytest.raises(InputError) as info:
        load(path, source=f"broken/{name}")
    message = str(info.value)
    assert message.startswith(f"broken/{name}: ")
    assert BROKEN_CASES[name] in message
    assert "\n" not in message


def test_latin1_fixture_is_decoded_not_rejected() -> None:
    path = BROKEN / "latin1.txt"
    if not path.exists():
        pytest.skip(f"{path} not created yet")
    (doc,) = load(path)
    assert "café" in doc.text and "Zürich" in doc.text


# --- text and markdown -----------------------------------------------------


def test_text_decoding_and_titles(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffShort title\n\nBody.\n".encode())
    (doc,) = load(bom)
    assert doc.text == "Short title\n\nBody.\n"
    assert doc.metadata == {"format": "txt", "title": "Short title"}

    long_first = tmp_path / "long-line.txt"
    long_first.write_text("word " * 40 + "\n", encoding="utf-8")
    assert load(long_first)[0].metadata["title"] == "long-line"

    latin = tmp_path / "latin.txt"
    latin.write_bytes("Les élèves aiment le café à Zürich.\n".encode("latin-1"))
    assert load(latin)[0].text == "Les élèves aiment le café à Zürich.\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "no extractable text"), (b" \n\t\n", "no extractable text"), (b"abc\x00\x01\x02" * 50, "not a text file")],
)
def test_text_rejects_empty_and_binary(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=f"^x/bad.txt: {message}"):
        load(path, source="x/bad.txt")


def test_markdown_title_is_first_h1_outside_code(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("```\n# not a title\n```\n\n## Sub\n\n# Real Title #\n\ntext\n", encoding="utf-8")
    (doc,) = load(path)
    assert doc.metadata == {"format": "md", "title": "Real Title"}
    assert doc.text.startswith("```")  # markdown is kept as written
    path.write_text("## Only a subheading\n\ntext\n", encoding="utf-8")
    assert load(path)[0].metadata["title"] == "notes"


# --- html ------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><meta charset="iso-8859-1"><title> Page  Title </title>
<style>p {color: red}</style><script>var x = "script text";</script></head>
<body><header><h1>Site name</h1></header><nav><a href="/">Home nav</a></nav>
<main><article><header><h1>Article <em>Heading</em></h1></header>
<p>First   paragraph
with <b>bold</b> text and a line<br>break.</p>
<h2>Lists</h2><ul><li>One</li><li>Two <ul><li>Nested</li></ul></li></ul>
<h3>Table</h3><table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>
<pre>code  line 1
    indented</pre>
<div>Loose text in a div <span>caf\xe9</span></div>
<noscript>Enable JS</noscript><!-- a comment --></article></main>
<footer>Copyright footer</footer></body></html>"""

EXPECTED_HTML = """# Article Heading

First paragraph with bold text and a line
break.

## Lists

One

Two

Nested

### Table

Name | Value

a | 1

code  line 1
    indented

Loose text in a div café
"""


def test_html_structure_as_markdown_without_boilerplate(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(PAGE.encode("latin-1"))
    (doc,) = load(path)
    assert doc.text == EXPECTED_HTML
    assert doc.metadata == {"format": "html", "title": "Page Title"}


def test_html_title_falls_back_to_h1_then_stem(tmp_path: Path) -> None:
    path = tmp_path / "fallback.html"
    path.write_text("<html><body><h1>Main  heading</h1><p>Body.</p></body></html>", encoding="utf-8")
    assert load(path)[0].metadata["title"] == "Main heading"
    path.write_text("<p>Just a fragment.</p>", encoding="utf-8")
    (doc,) = load(path)
    assert (doc.text, doc.metadata["title"]) == ("Just a fragment.\n", "fallback")


def test_html_with_only_boilerplate_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "chrome.html"
    path.write_text("<html><body><nav>Menu</nav><script>x()</script><footer>(c)</footer></body></html>")
    with pytest.raises(InputError, match="chrome.html: no extractable text"):
        load(path)


# --- docx ------------------------------------------------------------------


def write_docx(path: Path, *, core_title: str = "", with_title: bool = True) -> None:
    document = docx.Document()
    document.core_properties.title = core_title
    if with_title:
        document.add_paragraph("Doc Title", style="Title")
    document.add_heading("Section One", level=1)
    document.add_paragraph("Plain paragraph.")
    document.add_paragraph("")
    document.add_heading("Sub Section", level=2)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Merged"
    table.cell(0, 2).text = "C"
    for i, value in enumerate(["x", "y", "z"]):
        table.cell(1, i).text = value
    document.add_paragraph("After the table.")
    document.save(str(path))


def test_docx_headings_tables_and_title(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    write_docx(path, core_title="Core Title")
    (doc,) = load(path)
    assert doc.text == (
        "# Doc Title\n\n## Section One\n\nPlain paragraph.\n\n### Sub Section\n\n"
        "Merged | C\n\nx | y | z\n\nAfter the table.\n"
    )
    assert doc.metadata == {"format": "docx", "title": "Core Title"}


def test_docx_without_title_paragraph_keeps_heading_levels(tmp_path: Path) -> None:
    path = tmp_path / "plain.docx"
    write_docx(path, with_title=False)
    (doc,) = load(path)
    assert doc.text.startswith("# Section One\n\nPlain paragraph.\n\n## Sub Section\n\n")
    assert doc.metadata["title"] == "Section One"


def test_docx_without_text_or_not_a_docx(tmp_path: Path) -> None:
    empty = tmp_path / "empty.docx"
    docx.Document().save(str(empty))
    with pytest.raises(InputError, match="empty.docx: no extractable text"):
        load(empty)
    fake = tmp_path / "fake.docx"
    fake.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="fake.docx: not a readable DOCX"):
        load(fake)


# --- pdf -------------------------------------------------------------------


def make_pdf(pages: list[str], *, title: str | None = None, password: str | None = None) -> bytes:
    """A small PDF with one line of Helvetica text per page ("" = a page without text)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1") if text else b"")
        page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_one_document_per_page_with_text(tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(make_pdf(["First page text", "", "Third page text"], title="Paper Title"))
    docs = load(path)
    assert [d.text for d in docs] == ["First page text", "Third page text"]
    assert [d.metadata for d in docs] == [
        {"format": "pdf", "title": "Paper Title", "page": 1},
        {"format": "pdf", "title": "Paper Title", "page": 3},
    ]
    assert {d.doc_id for d in docs} == {"doc1"}


def test_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    path = tmp_path / "untitled.pdf"
    path.write_bytes(make_pdf(["Opening line", "more"]))
    assert load(path)[0].metadata["title"] == "Opening line"


def test_pdf_encryption(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["secret"], password="pw"))
    with pytest.raises(InputError, match="locked.pdf: the PDF is encrypted"):
        load(locked)
    restricted = tmp_path / "restricted.pdf"  # empty user password: opens normally
    restricted.write_bytes(make_pdf(["readable"], password=""))
    assert load(restricted)[0].text == "readable"


def test_pdf_image_only_and_truncated(tmp_path: Path) -> None:
    blank = tmp_path / "scan.pdf"
    blank.write_bytes(make_pdf(["", ""]))
    with pytest.raises(InputError, match=r"scan.pdf: no extractable text \(empty or image-only file\)"):
        load(blank)
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(make_pdf(["some text"])[:200])
    with pytest.raises(InputError, match="cut.pdf: not a readable PDF"):
        load(cut)


def test_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.txt: cannot read"):
        load(tmp_path / "missing.txt")
