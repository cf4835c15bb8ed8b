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
from itertools import chain, islice
from typing import TypeVar

from thrifty.utf8_text import beyond_ascii

Word = TypeVar("Word", str, bytes)
_WORD = re.compile(r"\w+", re.UNICODE)
K1 = 1.5
B = 0.75


# Each byte of UTF-8 as ``words`` wants it: an ASCII letter in lower case, an ASCII
# character that is not a word character (``\w``) a blank, a byte of a non-ASCII character
# (128 and up) kept.
_LOWER_WORDS = bytes(
    c if c >= 128 else ord(chr(c).lower()) if chr(c).isalnum() or chr(c) == "_" else 32
    for c in range(256)
)
MAX_REPLACED = 16  # distinct non-ASCII non-word characters blanked, or the regex cuts


def words(text: str) -> list[str]:
    r"""Lower-case word tokens (letters, digits and underscores, any script: ``\w+``).

    The words ``\w+`` finds in ``text.lower()``, cut from the UTF-8 bytes (a fifth less
    CPU than lowering and blanking the ``str``; the regex takes twice as long): the few
    distinct non-ASCII characters that are not word characters (quotes, dashes, emoji)
    become blanks (``bytes.replace``: a UTF-8 sequence never matches across characters),
    then one ``bytes.translate`` lowers ASCII letters and blanks the other ASCII non-word
    characters, and the text is split on blanks.  ``\w`` is ``str.isalnum`` or ``_``,
    character by character.  Lower-casing changes only ASCII letters unless a non-ASCII
    character has a lower case of its own (``É``, ``Σ``, the Kelvin sign): then the text
    is lowered first (tests/context/test_words.py checks the words are ``\w+``'s on any
    text)."""
    blanked = _blanked(text)
    return _WORD.findall(text.lower()) if blanked is None else blanked.decode().split()


def word_bytes(text: str) -> list[bytes]:
    """:func:`words` as UTF-8 (``[w.encode() for w in words(text)]``), what selection
    counts and compares: the encoding is one-to-one, so the counts and the overlaps are
    the same, and splitting the bytes skips decoding them and ``str.split``'s Unicode
    blanks (8-18% less CPU on the cold bench's documents).  The bytes hold no blank but
    the space (every other ASCII blank became one, and every non-ASCII blank is a
    non-word character, replaced by spaces), so ``bytes.split`` cuts where ``str.split``
    does."""
    blanked = _blanked(text)
    if blanked is None:
        return [w.encode("utf-8", "surrogatepass") for w in _WORD.findall(text.lower())]
    return blanked.split()


def _blanked(text: str) -> bytes | None:
    """``text``'s UTF-8 with every non-word character a space and ASCII letters lowered
    (:func:`words`), or ``None`` when more than ``MAX_REPLACED`` distinct non-ASCII
    characters would need replacing (the regex then cuts it)."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) != len(text):
        others = beyond_ascii(raw)
        if others.lower() != others:  # a non-ASCII character has a lower case of its own
            raw = text.lower().encode("utf-8", "surrogatepass")
            others = beyond_ascii(raw)
        blanked = [c for c in set(others) if not (c.isalnum() or c == "_")]
        if len(blanked) > MAX_REPLACED:
            return None
        for character in blanked:
            encoded = character.encode("utf-8", "surrogatepass")
            raw = raw.replace(encoded, b" " * len(encoded))  # as long: replaced in place
    return raw.translate(_LOWER_WORDS)


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
    return bm25_of_terms(list(set(query)), bags, lengths, k1, b)


def bm25_of_terms(
    terms: Sequence[Word],
    bags: Sequence[Mapping[Word, int]],
    lengths: Sequence[int],
    k1: float = K1,
    b: float = B,
) -> list[float]:
    """:func:`bm25_of_bags` of the query's distinct words, in the order every text's terms
    are summed in (``list(set(words))`` there: the same order gives the same scores to the
    last bit), the words as ``str`` or as :func:`word_bytes`."""
    if not bags:
        return []
    average = sum(lengths) / len(bags) or 1.0
    shared = [list(filter(bag.__contains__, terms)) for bag in bags]
    holding = Counter(chain.from_iterable(shared))
    total = len(bags)
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in holding.items()}
    k1_plus_1 = k1 + 1
    scores = []
    for bag, found, length in zip(bags, shared, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        score = 0.0
        for term in found:
            freq = bag[term]
            score += idf[term] * freq * k1_plus_1 / (freq + norm)
        scores.append(score)
    return scores


def jaccard_at_most(size_a: int, size_b: int) -> float:
    """An upper bound on the Jaccard overlap of sets of these sizes (the smaller over the
    larger, reached when one holds the other), known without comparing them."""
    larger = max(size_a, size_b)
    return min(size_a, size_b) / larger if larger else 0.0


def jaccard(a: AbstractSet[Word], b: AbstractSet[Word]) -> float:
    """Overlap of two word sets, or of the keys of two word counts (1: the same words; 0:
    none shared, or both empty)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


PREFIX_CHECKED = 64  # words of the smaller set looked up before the exact overlap is counted


def jaccard_reaches(a: AbstractSet[Word], b: AbstractSet[Word], threshold: float) -> bool:
    """``jaccard(a, b) >= threshold``, most often known from a few lookups: two texts that
    are not near-duplicates differ in most words, so looking up the smaller set's words
    in the other finds, within a few, more words missing than the overlap can lose and
    still reach ``threshold``.  Past ``PREFIX_CHECKED`` words without that, the overlap is
    counted (:func:`jaccard`)."""
    if len(a) > len(b):
        a, b = b, a
    least = _least_shared(len(a), len(a) + len(b), threshold)
    if least is None:
        return False
    allowed = len(a) - least  # words of ``a`` that may be missing from ``b``
    missing = 0
    for word in islice(a, PREFIX_CHECKED):
        if word not in b:
            missing += 1
            if missing > allowed:
                return False
    if len(a) <= PREFIX_CHECKED:  # every word looked up: ``len(a) - missing`` shared
        return True
    return jaccard(a, b) >= threshold


def _least_shared(smaller: int, total: int, threshold: float) -> int | None:
    """The fewest shared words with which sets of ``smaller`` and ``total - smaller`` words
    reach ``threshold``, as :func:`jaccard` computes it (``None``: not even with all of
    the smaller set).  ``shared / (total - shared)`` grows with ``shared``, and a rounded
    division never falls as its exact value grows, so the answer is a threshold: found
    from its estimate ``threshold * total / (1 + threshold)`` by steps of one."""
    if 0.0 < threshold <= 1.0:
        guess = min(smaller, math.ceil(threshold * total / (1 + threshold)))
        # One fewer reaches it too (the estimate's rounding): step down.  The union of
        # ``guess - 1`` shared words is at least 1 (``guess <= smaller <= total - guess``).
        while guess > 0 and (guess - 1) / (total - guess + 1) >= threshold:
            guess -= 1
    else:
        guess = 0
    while guess <= smaller:
        union = total - guess
        if (guess / union if union else 0.0) >= threshold:
            return guess
        guess += 1
    return None
