"""Okapi BM25 over a handful of candidate texts (the documents of one call).

A small implementation on purpose: the candidates arrive with each call (tens to a few
thousand chunks), so the index lives for one query; ``bm25s`` and ``rank-bm25`` build
sparse or dense structures meant for a corpus indexed once and queried many times, and
bring numpy/scipy work that costs more than it saves at this size.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

_WORD = re.compile(r"\w+", re.UNICODE)
K1 = 1.5
B = 0.75


# Each byte of UTF-8 kept, but those of ASCII characters that are not word characters
# (``\w``): a blank instead.  The bytes of non-ASCII characters (128 and up) are kept.
_ASCII_NON_WORD = bytes(
    c if c >= 128 or chr(c).isalnum() or chr(c) == "_" else 32 for c in range(256)
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
MAX_REPLACED = 16  # distinct non-ASCII non-word characters blanked, or the regex cuts


def words(text: str) -> list[str]:
    r"""Lower-case word tokens (letters, digits and underscores, any script: ``\w+``).

    The words ``\w+`` finds, in half the time on real prompts: the few distinct non-ASCII
    characters that are not word characters (quotes, dashes, emoji) become blanks, then
    the UTF-8 bytes of ASCII non-word characters do (``bytes.translate``), and the text is
    split on blanks; ``\w`` is ``str.isalnum`` or ``_``, character by character
    (tests/context/test_words.py checks the two agree on any text)."""
    lowered = text.lower()
    if not lowered.isascii():
        others = [c for c in set(_NON_ASCII.findall(lowered)) if not (c.isalnum() or c == "_")]
        if len(others) > MAX_REPLACED:
            return _WORD.findall(lowered)
        for character in others:
            lowered = lowered.replace(character, " ")
    return lowered.encode().translate(_ASCII_NON_WORD).decode().split()


def bm25_scores(query: str, texts: Sequence[str], k1: float = K1, b: float = B) -> list[float]:
    """Each text's BM25 score for ``query`` (0 for a text sharing no word with it).  IDF is
    the non-negative form, ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
    return bm25_of_words(words(query), [words(t) for t in texts], k1, b)


def bm25_of_words(
    query: Sequence[str], texts: Sequence[Sequence[str]], k1: float = K1, b: float = B
) -> list[float]:
    """:func:`bm25_scores` of texts already cut into :func:`words`."""
    return bm25_of_bags(query, [Counter(t) for t in texts], [len(t) for t in texts], k1, b)


def bm25_of_bags(
    query: Sequence[str],
    bags: Sequence[Mapping[str, int]],
    lengths: Sequence[int],
    k1: float = K1,
    b: float = B,
) -> list[float]:
    """:func:`bm25_scores` of texts given as word counts (a ``Counter`` of their
    :func:`words`) and lengths in words: only the words a text shares with the query are
    visited."""
    if not bags:
        return []
    average = sum(lengths) / len(bags) or 1.0
    terms = set(query)
    holding: Counter[str] = Counter()
    shared = [[term for term in terms if term in bag] for bag in bags]  # in one order
    for found in shared:
        holding.update(found)
    total = len(bags)
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in holding.items()}
    scores = []
    for bag, found, length in zip(bags, shared, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        score = 0.0
        for term in found:
            freq = bag[term]
            score += idf[term] * freq * (k1 + 1) / (freq + norm)
        scores.append(score)
    return scores


def jaccard_at_most(size_a: int, size_b: int) -> float:
    """An upper bound on the Jaccard overlap of sets of these sizes (the smaller over the
    larger, reached when one holds the other), known without comparing them."""
    larger = max(size_a, size_b)
    return min(size_a, size_b) / larger if larger else 0.0


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """Overlap of two word sets, or of the keys of two word counts (1: the same words; 0:
    none shared, or both empty)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0
