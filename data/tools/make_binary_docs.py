"""Generate the PDF and DOCX documents of the bundled demo corpus from their text sources.

Each document's text is a source file under ``data/tools/binary_docs/``, named
after the file it becomes (``training/scaling-laws.pdf.md`` ->
``data/corpus/training/scaling-laws.pdf``). Running this script (re)writes the
five PDFs and four DOCX files; the Markdown, plain-text and HTML documents of
the corpus are hand-written files and are not touched. From the repository root::

    make corpus

Source format (a small Markdown subset, one line per paragraph)::

    ---
    title: Document title
    subject: One-line subject (PDF/DOCX metadata)
    ---
    # Top-level section (a new PDF page, a DOCX Heading 1)
    A paragraph on one line.
    - a bullet item
    ## A second-level heading
        a formula, indented four spaces (Courier in the PDF)

Output is deterministic: fixed creation/modification dates and metadata,
fixed PDF file ids, and fixed timestamps inside the DOCX zip archives, so a
re-run produces the same bytes with the same library versions (fpdf2 and
python-docx, the ``corpus`` extra). PDFs use the core Helvetica/Courier fonts,
so PDF text must be latin-1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

FIXED_DATE = dt.datetime(2024, 1, 15, 12, 0, 0, tzinfo=dt.UTC)
AUTHOR = "rag_app demo corpus"
SOURCES = Path(__file__).resolve().parent / "binary_docs"


def read_source(path: Path) -> dict[str, Any]:
    """A source file as ``{title, subject, sections: [(heading, blocks)]}``.

    A block is a paragraph (str), a bullet list (list of str), ``("h2", heading)``
    or ``("eq", formula)``.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        raise SystemExit(f"{path}: must start with a --- title/subject --- header")
    end = lines.index("---", 1)
    meta = dict(line.split(": ", 1) for line in lines[1:end])
    sections: list[tuple[str, list[Any]]] = []
    previous = ""
    for line in lines[end + 1 :]:
        if not line.strip():
            previous = ""  # a blank line ends a bullet list
            continue
        if line.startswith("# "):
            sections.append((line[2:], []))
            continue
        if not sections:
            raise SystemExit(f"{path}: text before the first '# ' section heading")
        blocks = sections[-1][1]
        if line.startswith("## "):
            blocks.append(("h2", line[3:]))
        elif line.startswith("    "):
            blocks.append(("eq", line[4:]))
        elif line.startswith("- "):
            if previous.startswith("- "):
                blocks[-1].append(line[2:])
            else:
                blocks.append([line[2:]])
        else:
            blocks.append(line)
        previous = line
    return {"title": meta["title"], "subject": meta["subject"], "sections": sections}


def documents(root: Path = SOURCES) -> list[dict[str, Any]]:
    """Every source under ``root``, with ``path`` (relative to the corpus) added."""
    docs = []
    for source in sorted(root.rglob("*.md")):
        doc = read_source(source)
        doc["path"] = source.relative_to(root).as_posix().removesuffix(".md")
        docs.append(doc)
    return docs


# ---------------------------------------------------------------------------
# PDF rendering (fpdf2)
# ---------------------------------------------------------------------------


def _pdf_text_check(text: str, where: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:  # pragma: no cover - guard for editors
        raise SystemExit(f"non latin-1 text in PDF content ({where}): {exc}") from exc
    return text


def build_pdf(doc: dict[str, Any], out: Path) -> None:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    title = doc["title"]

    class HandbookPDF(FPDF):  # type: ignore[misc]
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = HandbookPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_subject(doc["subject"])
    pdf.set_creator("data/tools/make_binary_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)

    def para(
        text: str, size: float = 11, style: str = "", font: str = "Helvetica", indent: float = 0
    ) -> None:
        pdf.set_font(font, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(
            pdf.epw - indent,
            size * 0.5,
            _pdf_text_check(text, title),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(2.5)

    for i, (heading, blocks) in enumerate(doc["sections"]):
        pdf.add_page()
        if i == 0:
            para(title, size=20, style="B")
            pdf.ln(2)
        para(heading, size=15, style="B")
        for block in blocks:
            if isinstance(block, str):
                para(block)
            elif isinstance(block, list):
                for item in block:
                    para("- " + item, indent=5)
            elif block[0] == "h2":
                pdf.ln(1)
                para(block[1], size=12.5, style="B")
            elif block[0] == "eq":
                para(block[1], size=10.5, font="Courier", indent=8)
            else:  # pragma: no cover
                raise ValueError(block)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(pdf.output()))


# ---------------------------------------------------------------------------
# DOCX rendering (python-docx)
# ---------------------------------------------------------------------------

_ZIP_DATE = (2024, 1, 15, 12, 0, 0)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps so the bytes are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return buf.getvalue()


def build_docx(doc: dict[str, Any], out: Path) -> None:
    import docx

    d = docx.Document()
    props = d.core_properties
    props.title = doc["title"]
    props.subject = doc["subject"]
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Generated by data/tools/make_binary_docs.py"
    props.keywords = "LLM fundamentals handbook"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    d.add_heading(doc["title"], level=0)  # "Title" style
    for heading, blocks in doc["sections"]:
        d.add_heading(heading, level=1)
        for block in blocks:
            if isinstance(block, str):
                d.add_paragraph(block)
            elif isinstance(block, list):
                for item in block:
                    d.add_paragraph(item, style="List Bullet")
            elif block[0] == "h2":
                d.add_heading(block[1], level=2)
            elif block[0] == "eq":
                d.add_paragraph(block[1])
            else:  # pragma: no cover
                raise ValueError(block)
    buf = io.BytesIO()
    d.save(buf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalise_zip(buf.getvalue()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "corpus",
        help="corpus directory to write into (default: data/corpus)",
    )
    args = parser.parse_args(argv)
    builders = {".pdf": build_pdf, ".docx": build_docx}
    for doc in documents():
        builders[Path(doc["path"]).suffix](doc, args.out / doc["path"])
        print("wrote", doc["path"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
