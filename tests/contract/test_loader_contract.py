"""The Loader contract: every registered loader backend must pass all of it.

Sample files are written to ``tmp_path`` at test time; PDF and DOCX samples are
made with pypdf and python-docx (core dependencies). A corrupt, empty or
missing file is an ``InputError`` whose one-line message starts with the source.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag_app import registry
from rag_app.errors import InputError
from rag_app.protocols import Loader
from rag_app.types import Document

PHRASE = "Reciprocal rank fusion combines ranked lists"


def _text(path: Path) -> None:
    path.write_text(f"Fusion notes\n\n{PHRASE} from several retrievers.\nIt needs only ranks.\n", encoding="utf-8")


def _markdown(path: Path) -> None:
    path.write_text(f"# Fusion\n\n{PHRASE} from several retrievers.\n\n## Details\n\nOnly ranks.\n", encoding="utf-8")


def _html(path: Path) -> None:
    path.write_text(
        "<!doctype html><html><head><title>Fusion</title><style>p{}</style></head><body>"
        "<nav>Home | About</nav><h1>Fusion</h1>"
        f"<p>{PHRASE} from <b>several</b> retrievers.</p><ul><li>Only ranks.</li></ul>"
        "<script>var x = 1;</script><footer>(c) site</footer></body></html>",
        encoding="utf-8",
    )


def _pdf(path: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

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
    for line in (f"{PHRASE} from several retrievers.", "Only ranks are needed."):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Fusion", level=1)
    document.add_paragraph(f"{PHRASE} from several retrievers.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "ranks", "only"
    document.save(str(path))


@dataclass(frozen=True)
class LoaderBackend:
    """A loader's sample writer and the garbage bytes it must reject."""

    suffix: str
    write_sample: Callable[[Path], None]
    garbage: bytes


_NOISE = random.Random(7).randbytes(4096)  # fixed seed: the same bytes every run
_BINARY = b"\x00\x01\x02\x03\xff\xfe" * 200

BACKENDS: dict[str, LoaderBackend] = {
    "text": LoaderBackend(".txt", _text, _BINARY),
    "markdown": LoaderBackend(".md", _markdown, _BINARY),
    "html": LoaderBackend(".html", _html, _BINARY),
    "pdf": LoaderBackend(".pdf", _pdf, b"%PDF-1.7\n" + _NOISE),
    "docx": LoaderBackend(".docx", _docx, b"PK\x03\x04" + _NOISE),
}


@dataclass
class Case:
    name: str
    loader: Loader
    backend: LoaderBackend


@pytest.fixture(params=registry.names("loader"))
def case(request: pytest.FixtureRequest) -> Case:
    """The loader named by the param, with its sample writer."""
    backend = BACKENDS.get(request.param)
    if backend is None:
        pytest.fail(f"loader {request.param!r} has no factory in {__name__}")
    loader: Loader = registry.create("loader", request.param, {}, base_dir=Path.cwd())
    return Case(request.param, loader, backend)


def _raises_one_line(case: Case, path: Path, source: str) -> str:
    with pytest.raises(InputError) as info:
        case.loader.load(path, source=source, doc_id="bad")
    message = str(info.value)
    assert message.startswith(f"{source}: "), message
    assert "\n" not in message and len(message) < 400, message
    return message


def test_every_registered_loader_has_a_factory() -> None:
    """Registering a loader without contract coverage fails here."""
    assert sorted(BACKENDS) == registry.names("loader")


def test_satisfies_protocol_and_claims_its_suffix(case: Case) -> None:
    """The loader matches the protocol and lists its sample's suffix among lowercase extensions."""
    assert isinstance(case.loader, Loader)
    assert case.backend.suffix in case.loader.extensions
    assert all(e.startswith(".") and e == e.lower() for e in case.loader.extensions)


def test_loads_a_sample_with_the_given_source_and_doc_id(case: Case, tmp_path: Path) -> None:
    """A sample file gives Documents with its text, the caller's source and doc_id, a format and a title."""
    path = tmp_path / f"sample{case.backend.suffix}"
    case.backend.write_sample(path)
    docs = case.loader.load(path, source="folder/sample", doc_id="doc-42")
    assert docs and all(isinstance(d, Document) for d in docs)
    for doc in docs:
        assert doc.doc_id == "doc-42" and doc.source == "folder/sample"
        assert doc.text.strip()
        assert isinstance(doc.metadata.get("format"), str) and doc.metadata["format"]
        assert isinstance(doc.metadata.get("title"), str) and doc.metadata["title"]
    joined = " ".join(" ".join(d.text.split()) for d in docs)
    assert PHRASE in joined
    assert case.loader.load(path, source="folder/sample", doc_id="doc-42") == docs  # deterministic


def test_garbage_file_is_a_one_line_input_error(case: Case, tmp_path: Path) -> None:
    """Bytes that are not the loader's format raise InputError naming the source, on one line."""
    path = tmp_path / f"garbage{case.backend.suffix}"
    path.write_bytes(case.backend.garbage)
    _raises_one_line(case, path, "in/garbage")


def test_random_bytes_are_a_one_line_input_error(case: Case, tmp_path: Path) -> None:
    """Random bytes under the loader's suffix raise InputError, never another exception."""
    path = tmp_path / f"noise{case.backend.suffix}"
    path.write_bytes(_NOISE)
    _raises_one_line(case, path, "in/noise")


def test_empty_and_missing_files_are_input_errors(case: Case, tmp_path: Path) -> None:
    """An empty file says it has no text; a missing path says it cannot be read."""
    empty = tmp_path / f"empty{case.backend.suffix}"
    empty.write_bytes(b"")
    assert "no extractable text" in _raises_one_line(case, empty, "in/empty")
    blank = tmp_path / f"blank{case.backend.suffix}"
    blank.write_bytes(b"  \n\n\t ")
    _raises_one_line(case, blank, "in/blank")
    assert "cannot read" in _raises_one_line(case, tmp_path / f"absent{case.backend.suffix}", "in/absent")
