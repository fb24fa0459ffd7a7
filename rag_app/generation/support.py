"""Check every cited sentence against the chunk it cites.

A structurally valid ``[3]`` says nothing about whether source 3 says what the
sentence claims. After generation each sentence (a *claim*) is compared with
each source it cites:

* **numbers**: every number in the claim must occur in the source (``50,257``
  and ``50257`` are the same number). Small models corrupt figures they were
  given ("50,257" -> "5027"); a claim with a number its source lacks is
  unsupported whatever else it shares.
* **overlap**: the share of the claim's content words (stemmed, stop words
  left out) that occur in the source. Grounded answers from small models are
  mostly extractive, so a supported claim shares most of its words with its
  source; a wrong or invented one does not. A claim with two or more specific
  figures (0.665, 2048; not 2 or 0.5), all found in the source, needs half the
  overlap: a sentence restating a worked example shares its numbers, not its words.

A cited source that fails is removed from the sentence (and reported in
``Answer.unsupported_citations``). With ``attach`` on, a sentence left without
a supporting citation gets the source that supports it best, when one passes
(``Citation.added``), so the reader can still check it. The thresholds were
chosen on the answer gold set (``eval/suites/answers.yaml``); the measured
precision and recall are in the README.

Hand-written on purpose: the rule is a few lines over a stemmer (PyStemmer,
the one bm25s uses), runs in microseconds per pair and is explainable to a
user ("the number 5027 is not in source 2"); an NLI model would need weights
that cannot be installed offline here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag_app.generation.citations import MARKER, marker_numbers
from rag_app.types import Claim, ScoredChunk

# Sentence ends: . ! ? (with the citation markers that follow it) then spaces, or a line
# break (list items, paragraphs).
_SENTENCE_END = re.compile(r"[.!?](?:[ \t]*\[[\d\s,;–-]{1,40}\])*[ \t]+|\n+")
_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_DIGIT_GROUPS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_POSSESSIVE = re.compile(r"['’]s\b")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_END_PUNCT = re.compile(r"[\s.!?:;]*$")
_SENTENCE_STOPS = frozenset(".!?:;")
_BARE_MARKERS = re.compile(rf"(?:\s*{MARKER.pattern})+[\s.,;:]*")

# Function words that say nothing about support (closed-class English words only).
_STOP_WORDS = """a an the and or but nor so yet of to in on at by for with from into onto over under about as than
    then that
    this these those there here it its they them their we our you your he she his her i me my is are was were be
    been being am do does did done has have had having can could will would shall should may might must not no yes
    also just only very more most much many such some any each every all both either neither which who whom whose
    what when where why how if else while because since until unless though although whether per via using used
    use uses one two source sources answer according document documents text passage"""
_STOP = frozenset(_STOP_WORDS.split())

# Words of sentences that talk about the sources instead of stating something ("The source number
# for this fact is [4].", "This is mentioned in [3] on page 3 of the article."). They still count for
# support (leaving them out of the overlap lowered citation precision on the gold set); a sentence
# made of nothing else is a pointer, checked against the claim before it (``_check_pointer``).
_META_WORDS = """number numbers fact facts information info found find mentioned mention mentions stated
    state states described describe describes provided provide provides given listed shown show shows
    see refer refers referred reference references cited cite cites page pages article articles section
    sections paragraph context question look looking need needs therefore thus hence detail details first
    second third fourth fifth last above below following based discussed explained explains says said
    contains contain contained taken comes came"""
_META = frozenset(_META_WORDS.split())
_LOCATOR = re.compile(
    r"\b(?:pages?|p\.|pp\.|sources?|sections?|chunks?|passages?|lines?)\s*\d+(?:\s*[-–]\s*\d+)?", re.I
)


@dataclass(frozen=True)
class Support:
    """How well one source backs one claim."""

    overlap: float
    missing_numbers: tuple[str, ...]
    specific_numbers: int = 0  # the claim's specific figures (``_specific``), all in the source unless missing

    def passes(self, min_overlap: float) -> bool:
        if self.missing_numbers:
            return False
        # Two or more specific figures ("0.665, 0.245, 0.090") found in the source are evidence no
        # paraphrase can fake, so half the word overlap suffices.
        needed = min_overlap / 2 if self.specific_numbers >= 2 else min_overlap
        return self.overlap >= needed


@dataclass(frozen=True)
class CheckedText:
    """An answer after the citation check."""

    text: str
    claims: list[Claim]
    unsupported: list[int]
    added: set[int]
    supported: set[int]


class _Terms:
    """The stemmed content words and the numbers of one text."""

    def __init__(self, text: str, stem: Callable[[str], str]) -> None:
        words: set[str] = set()
        numbers: set[str] = set()
        for token in _WORD.findall(_POSSESSIVE.sub("", _DIGIT_GROUPS.sub("", text.lower()))):
            if any(ch.isdigit() for ch in token):
                numbers.add(_number(token))
                continue
            for part in re.split(r"[.,'’]", token):
                if len(part) > 1 and part not in _STOP:
                    words.add(stem(part))
        self.words = words
        self.numbers = numbers


def _number(token: str) -> str:
    """A numeric token in one spelling: ``0.50`` and ``0.5`` alike; ``1.5B`` stays as written."""
    try:
        value = float(token)
    except ValueError:
        return token.rstrip(".,")
    return format(value, "g") if value != int(value) or "." in token else str(int(value))


@functools.lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    try:
        import Stemmer
    except ImportError:  # pragma: no cover - PyStemmer ships with rag_app's core dependencies
        return str
    stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord  # type: ignore[no-any-return]


def terms(text: str) -> _Terms:
    """The stemmed content words and the numbers of ``text``."""
    return _Terms(text, _stemmer())


def support(claim: str, source: str) -> Support:
    """How well ``source`` (a chunk text) supports ``claim`` (one sentence, markers removed)."""
    stem = _stemmer()
    c, s = _Terms(claim, stem), _Terms(source, stem)
    overlap = len(c.words & s.words) / len(c.words) if c.words else 1.0
    return Support(overlap, tuple(sorted(c.numbers - s.numbers)), sum(map(_specific, c.numbers)))


def _specific(number: str) -> bool:
    """A figure a sentence could hardly share with its source by chance: 0.665 or 2048, not 2 or 0.5."""
    try:
        value = float(number)
    except ValueError:
        return True  # "1.5b", "fp16": a digit inside a name
    return len(number.partition(".")[2]) >= 2 if "." in number else abs(value) > 10


def checkable(claim: str) -> bool:
    """False for sentences that state nothing to check ("Here is the answer:", a bare header)."""
    terms = _Terms(claim, _stemmer())
    return len(terms.words) >= 2 or bool(terms.numbers and terms.words)


def states_something(claim: str) -> bool:
    """``checkable`` and not only about the sources ("This can be found on page 3 of the article.")."""
    if not checkable(claim):
        return False
    located = _Terms(_LOCATOR.sub(" ", claim), str)  # unstemmed, to compare with the word list
    return bool(located.numbers) or any(word not in _META for word in located.words)


def split_claims(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``; markers right after a sentence's end stay with it.

    A span that is only citation markers ("... lower memory. [2]" at the end of a paragraph,
    "[3]. Tokenisation ..." at the start of a line) is not a sentence: it joins the sentence
    after it on the same line, else the one before, so its citation is checked against a
    claim instead of passing unchecked.
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() if match.group(0).startswith("\n") else match.start() + len(match.group(0).rstrip())
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return _join_bare_markers(text, spans)


def _join_bare_markers(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None  # a bare marker span waiting for the sentence after it
    for index, (a, b) in enumerate(spans):
        if pending is not None:
            a, pending = pending[0], None
        elif _BARE_MARKERS.fullmatch(text[a:b]):
            following = spans[index + 1] if index + 1 < len(spans) else None
            if following is not None and "\n" not in text[b : following[0]]:
                pending = (a, b)
                continue
            if out:
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    return out


Span = tuple[int, int]


def _segments(sentence: str) -> list[tuple[str, list[int], list[Span]]]:
    """A sentence cut after each run of citation markers: ``(text, cited numbers, marker spans)``.

    "A [1] and B [2]." is checked as "A [1]" against source 1 and " and B [2]." against
    source 2. A marker run with nothing checkable before it ("[1]. The loss ...") leads
    the text after it; a run after nothing but punctuation ("... [1]. [2]") joins the
    segment before it; text after the last marker joins the last segment unless it
    states something of its own.
    """
    groups: list[tuple[int, int, list[int]]] = []
    for match in MARKER.finditer(sentence):
        numbers = marker_numbers(match) or []
        if groups and not sentence[groups[-1][1] : match.start()].strip(" \t,;"):
            a, _, cited = groups[-1]
            groups[-1] = (a, match.end(), [*cited, *numbers])
        else:
            groups.append((match.start(), match.end(), numbers))
    out: list[tuple[str, list[int], list[Span]]] = []
    start, lead, lead_spans = 0, [], []  # type: ignore[var-annotated]
    for a, b, cited in groups:
        if out and not _WORD.search(sentence[start:a]):  # "... tokens [1]. [2]": [2] cites that claim too
            text, numbers, spans = out[-1]
            base = start - len(text)
            joined = list(dict.fromkeys([*numbers, *cited]))
            out[-1] = (text + sentence[start:b], joined, [*spans, (a - base, b - base)])
            start = b
            continue
        if not checkable(sentence[start:a]) and not out:
            lead, lead_spans = [*lead, *cited], [*lead_spans, (a, b)]
            continue
        spans = [(x - start, y - start) for x, y in [*lead_spans, (a, b)]]
        out.append((sentence[start:b], list(dict.fromkeys([*lead, *cited])), spans))
        start, lead, lead_spans = b, [], []
    tail = sentence[start:]
    if tail.strip():
        if out and not checkable(tail):
            text, cited, spans = out[-1]
            out[-1] = (text + tail, cited, spans)
        else:
            spans = [(x - start, y - start) for x, y in lead_spans]
            out.append((tail, list(dict.fromkeys(lead)), spans))
    return out


def check_citations(
    text: str, sources: Sequence[ScoredChunk], *, min_overlap: float, attach: bool
) -> CheckedText:
    """Check each claim's citations against its sources; drop the ones that do not support it.

    ``text`` must cite only numbers in ``1..len(sources)`` (run ``parse_citations`` first).
    Text that is left as it was is returned byte for byte.
    """
    result = CheckedText("", [], [], set(), set())
    pieces: list[str] = []
    owners: list[int] = []  # for each claim, the index in ``pieces`` of the sentence that states it
    last, dropped = 0, False
    for start, end in split_claims(text):
        gap, segments = text[last:start], _segments(text[start:end])
        before = len(result.claims)
        sentence = "".join(
            _check_segment(segment, cited, spans, sources, min_overlap, attach, result)
            for segment, cited, spans in segments
        )
        pointer = bool(MARKER.search(text[start:end])) and all(_points(_bare(segment)) for segment, _, _ in segments)
        dropped = pointer and _fold_pointer(sentence, before, result, pieces, owners)
        if dropped:  # only pointed at sources ("This is stated in [2] and [3].") and says nothing itself
            sentence = ""
            del result.claims[before:]
        pieces.append(gap if sentence or "\n" in gap else "")  # a dropped sentence takes its space along
        pieces.append(sentence)
        owners.extend([len(pieces) - 1] * (len(result.claims) - len(owners)))
        last = end
    pieces.append(text[last:])
    joined = "".join(pieces)
    return replace(result, text=joined.rstrip() if dropped and not text[last:].strip() else joined)


def _fold_pointer(
    sentence: str, before: int, result: CheckedText, pieces: list[str], owners: Sequence[int]
) -> bool:
    """Fold a sentence that only points at sources into the claim before it; False to keep it as written.

    The sources it still cites after ``_check_pointer`` (those holding that claim) join the claim's
    marker ("... 32,000 tokens [3]. This can be found in sources [1] and [4]." becomes
    "... 32,000 tokens [3, 4]."); with none left, or all already cited there, it simply goes.
    """
    left = [n for match in MARKER.finditer(sentence) for n in marker_numbers(match) or []]
    index = _last_stated(result.claims[:before])
    if not left:
        return True
    if index is None:
        return False
    claim = result.claims[index]
    extra = [n for n in dict.fromkeys(left) if n not in claim.citations]
    if extra:
        pieces[owners[index]] = _add_marker(pieces[owners[index]], extra)
        result.claims[index] = replace(claim, citations=[*claim.citations, *extra], supported=True)
    return True


def _last_stated(claims: Sequence[Claim]) -> int | None:
    """The index of the last claim that states something (a pointer's claim has ``supported`` None)."""
    return next((i for i in range(len(claims) - 1, -1, -1) if claims[i].supported is not None), None)


def _add_marker(sentence: str, numbers: Sequence[int]) -> str:
    """``sentence`` citing ``numbers`` too: added to its last marker, else placed before its end."""
    found = list(MARKER.finditer(sentence))
    if not found:
        return _place_marker(sentence, [], numbers)
    last = found[-1]
    merged = list(dict.fromkeys([*(marker_numbers(last) or []), *numbers]))
    return f"{sentence[: last.start()]}[{', '.join(map(str, merged))}]{sentence[last.end():]}"


def _points(bare: str) -> bool:
    """True for a segment that only points at sources: nothing stated, no figure but a page or source number."""
    return not states_something(bare) and not terms(_LOCATOR.sub(" ", bare)).numbers


def _check_segment(
    segment: str,
    cited: list[int],
    spans: list[Span],
    sources: Sequence[ScoredChunk],
    min_overlap: float,
    attach: bool,
    result: CheckedText,
) -> str:
    """Check one segment, record the verdict in ``result`` and return its (rewritten) text."""
    bare = _bare(segment)
    if not states_something(bare):
        return _check_pointer(segment, bare, cited, spans, sources, min_overlap, result)
    verdicts = {n: support(bare, sources[n - 1].chunk.text) for n in cited}
    keep = [n for n in cited if verdicts[n].passes(min_overlap)]
    if not keep and len(cited) > 1 and support(bare, _joined(sources, cited)).passes(min_overlap):
        keep = [n for n in cited if verdicts[n].overlap >= min_overlap / 2]  # each carries part of the claim
    _record_unsupported(result, cited, keep)
    marks = keep
    if not keep and attach:
        best = _best_source(bare, sources, min_overlap)
        if best is not None:
            keep, marks = [best], [best]
            verdicts[best] = support(bare, sources[best - 1].chunk.text)
            result.added.add(best)
    result.supported.update(keep)
    overlaps = [verdicts[n].overlap for n in (keep or cited)]
    # An uncited sentence is judged too when ``attach`` looked through every source: none supports it
    # ("Google released it in 2016" in an otherwise cited answer), so readers are told, not left to guess.
    verdict = bool(keep) if keep or cited or attach else None
    result.claims.append(Claim(bare, keep, verdict, round(max(overlaps, default=0), 3), cited=bool(cited)))
    if marks == cited:
        return segment
    return _place_marker(segment, spans, marks)


def _check_pointer(
    segment: str,
    bare: str,
    cited: list[int],
    spans: list[Span],
    sources: Sequence[ScoredChunk],
    min_overlap: float,
    result: CheckedText,
) -> str:
    """A segment that states nothing itself: its markers, if any, are checked against the claim before it.

    "This is stated in [2] and [3]." and "The source for this information is [1]." point at sources
    for the sentence before them; a source that does not back that sentence loses its marker, and a
    sentence left pointing at nothing is dropped (the model's text stays in ``Answer.raw_text``).
    """
    index = _last_stated(result.claims)
    previous = None if index is None else result.claims[index].text
    if not cited or previous is None or not _points(bare):  # "1 * 4 + 2 * 5 = 14", a list label "1."
        if cited:
            result.claims.append(Claim(bare, cited, None))
        return segment
    keep = [n for n in cited if support(previous, sources[n - 1].chunk.text).passes(min_overlap)]
    _record_unsupported(result, cited, keep)
    result.supported.update(keep)
    if keep:
        result.claims.append(Claim(bare, keep, None))
    elif all(word.lower() in _STOP for word in _WORD.findall(bare)):
        # "... which are sources [4] and [3].": the " and [3]." left without its source would read
        # "sources [4] and."; only its closing punctuation stays
        return segment[_END_PUNCT.search(segment.rstrip()).start() :]  # type: ignore[union-attr]
    return segment if keep == cited else _place_marker(segment, spans, keep)


def _record_unsupported(result: CheckedText, cited: Sequence[int], keep: Sequence[int]) -> None:
    result.unsupported.extend(n for n in dict.fromkeys(cited) if n not in keep and n not in result.unsupported)


def _joined(sources: Sequence[ScoredChunk], numbers: Sequence[int]) -> str:
    return "\n".join(sources[n - 1].chunk.text for n in numbers)


def _best_source(claim: str, sources: Sequence[ScoredChunk], min_overlap: float) -> int | None:
    scored = [(support(claim, hit.chunk.text), n) for n, hit in enumerate(sources, 1)]
    passing = [(s.overlap, -n) for s, n in scored if s.passes(min_overlap)]
    return -max(passing)[1] if passing else None


def _place_marker(segment: str, spans: list[Span], numbers: Sequence[int]) -> str:
    """``segment`` with its marker runs replaced by one ``[numbers]`` where the last run was.

    Without marker runs the new marker goes before the segment's final punctuation;
    with no numbers the runs are removed.
    """
    marker = "[" + ", ".join(map(str, numbers)) + "]" if numbers else ""
    if not spans:
        if not marker:
            return segment
        stripped = segment.rstrip()
        cut = _END_PUNCT.search(stripped)
        at = cut.start() if cut else len(stripped)
        return f"{stripped[:at]} {marker}{stripped[at:]}{segment[len(stripped):]}"
    out = segment
    for index, (a, b) in enumerate(sorted(spans, reverse=True)):
        head, tail = out[:a].rstrip(" \t"), out[b:]
        fill = marker if index == 0 and marker else ""
        ended = head.rstrip()
        if fill and not tail.strip() and ended[-1:] in _SENTENCE_STOPS:
            # "... lower memory. [2]" becomes "... lower memory [1]." (and the line break before a
            # marker on a line of its own goes with it)
            out = f"{ended[:-1]} {fill}{ended[-1]}{tail}"
        elif fill:
            out = f"{head} {fill}{tail}" if head else f"{fill}{tail}"
        elif not head:
            out = tail.lstrip(" \t.,;:")  # "[3]. Tokenisation ..." loses its marker and the ". "
        else:
            out = head + tail if not tail[:1].isalnum() else f"{head} {tail.lstrip()}"
    return out


def _bare(segment: str) -> str:
    """The claim a segment states: markers and list bullets removed."""
    return _tidy(_LIST_MARK.sub("", MARKER.sub(" ", segment)))


def _tidy(text: str) -> str:
    """Collapse runs of spaces and close the gap a removed marker leaves before punctuation."""
    return re.sub(r" ([.,;:!?])", r"\1", " ".join(text.split()))
