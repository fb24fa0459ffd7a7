"""Markdown from documents and models that loads nothing when shown.

A document containing ``![x](http://host/leak.png)`` would make every browser
that shows the chunk fetch that URL (a beacon, and an exfiltration path if an
injected document makes the model write such a link). :func:`neutralize`
rewrites untrusted Markdown so that it renders as text plus ordinary links:

* images (inline, reference, nested) become ``[image: alt] url`` as text;
  the URL stays visible (a bare URL renders as a link, which loads nothing
  until clicked);
* raw HTML is escaped (``<img ...>`` shows as text), whatever the renderer's
  HTML setting;
* ``$`` is escaped, so prices and shell snippets are not rendered as LaTeX.

Code (fenced blocks and inline code spans, found as CommonMark finds them) is
left as written: it renders literally anyway. Where this parser and a renderer
could disagree about what is code, it treats the text as prose (escaped), so a
disagreement costs a stray backslash, never a fetched resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}(?=[^`]*$)|~{3,})")
_INLINE_IMAGE = re.compile(r"!\[(?P<alt>[^\[\]\n]*)\]\(\s*<?(?P<url>[^()\s<>]*)>?(?:\s+[\"'(][^\n]*?[\"')])?\s*\)")
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_MATH = re.compile(r"(?<!\\)\$")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def neutralize(text: str) -> str:
    """``text`` as Markdown that renders no image and no raw HTML; code spans and blocks untouched."""
    return "".join(part if code else _prose(part) for part, code in _blocks(text))


def inline(text: str) -> str:
    """:func:`neutralize` for one line inside other Markdown (a caption, a list item, a tooltip)."""
    return neutralize(" ".join(text.split()))


def _prose(text: str) -> str:
    return "".join(part if code else _escape(part) for part, code in _code_spans(text))


def _escape(text: str) -> str:
    text = _INLINE_IMAGE.sub(_image_as_text, text)
    text = text.replace("![", "!\\[")  # any other image form (reference, nested, unclosed)
    text = _HTML_START.sub(r"\\<", text)
    return _MATH.sub(r"\\$", text)


def _image_as_text(match: re.Match[str]) -> str:
    alt = match.group("alt").strip() or "image"
    url = match.group("url")
    return f"\\[image: {alt}\\]" + (f" {url}" if url else "")


def _blocks(text: str) -> Iterator[tuple[str, bool]]:
    """``(part, is_fenced_code)`` pieces of ``text``, in order (CommonMark fences, top level only)."""
    lines = text.splitlines(keepends=True)
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i])
        if opened is None:
            prose.append(lines[i])
            i += 1
            continue
        fence = opened.group("fence")
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*\r?\n?$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines) - 1)
        if prose:
            yield "".join(prose), False
            prose = []
        yield "".join(lines[i : end + 1]), True  # an unclosed fence runs to the end, as in CommonMark
        i = end + 1
    if prose:
        yield "".join(prose), False


def _code_spans(text: str) -> Iterator[tuple[str, bool]]:
    """``(part, is_code_span)`` pieces: a backtick run closed by the next run of the same length.

    A span never crosses a blank line (paragraphs end there), and a run after a
    backslash opens nothing; in doubt, text stays prose.
    """
    pos = 0
    runs = list(_BACKTICKS.finditer(text))
    k = 0
    while k < len(runs):
        opener = runs[k]
        if opener.start() > 0 and text[opener.start() - 1] == "\\":
            k += 1
            continue
        closer = next((r for r in runs[k + 1 :] if len(r.group()) == len(opener.group())), None)
        if closer is None or _BLANK_LINE.search(text, opener.end(), closer.start()):
            k += 1
            continue
        if opener.start() > pos:
            yield text[pos : opener.start()], False
        yield text[opener.start() : closer.end()], True
        pos = closer.end()
        k = runs.index(closer) + 1
    if pos < len(text):
        yield text[pos:], False
