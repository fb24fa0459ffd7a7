"""Question-focused excerpts of retrieved chunks, to keep the prompt short.

On CPU the prompt dominates time to first token (a 0.5B model reads ~75-150
prompt tokens/s on two cores), and small models answer better from a few
relevant sentences than from whole chunks. ``answer.excerpt_tokens`` keeps,
from each chunk placed in the prompt, the sentences that share the most
informative words with the question (IDF-weighted over the retrieved
sentences), in their original order, up to that many of the generator's
tokens. Citations still point at, and are checked against, the whole chunk.

Hand-written: it reuses the stemmed terms of the citation check; a library
compressor (LLMLingua and the like) needs model weights that do not install
offline here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rag_app.generation.support import split_claims, terms


def excerpt_texts(
    question: str, texts: Sequence[str], max_tokens: int, count_tokens: Callable[[str], int]
) -> list[str]:
    """Each of ``texts`` cut to its best sentences for ``question`` (whole when it already fits)."""
    sentences = [[text[a:b].strip() for a, b in split_claims(text)] for text in texts]
    words = [[terms(s).words for s in group] for group in sentences]
    flat = [w for group in words for w in group]
    wanted = terms(question).words
    df = {w: sum(w in s for s in flat) for w in wanted}
    idf = {w: math.log(1 + len(flat) / df[w]) for w in wanted if df[w]}
    out = []
    for text, group, group_words in zip(texts, sentences, words, strict=True):
        if count_tokens(text) <= max_tokens or len(group) <= 1:
            out.append(text)
            continue
        scores = [sum(idf.get(w, 0.0) for w in ws) for ws in group_words]
        order = sorted(range(len(group)), key=lambda i: (-scores[i], i))
        keep: list[int] = []
        used = 0
        for i in order:
            size = count_tokens(group[i])
            if keep and used + size > max_tokens:
                continue
            keep.append(i)
            used += size
        out.append(" … ".join(group[i] for i in sorted(keep)))
    return out
