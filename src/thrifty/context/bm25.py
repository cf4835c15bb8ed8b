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
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
K1 = 1.5
B = 0.75


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits and underscores, any script)."""
    return _WORD.findall(text.lower())


def bm25_scores(query: str, texts: Sequence[str], k1: float = K1, b: float = B) -> list[float]:
    """Each text's BM25 score for ``query`` (0 for a text sharing no word with it).  IDF is
    the non-negative form, ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
    return bm25_of_words(words(query), [words(t) for t in texts], k1, b)


def bm25_of_words(
    query: Sequence[str], texts: Sequence[Sequence[str]], k1: float = K1, b: float = B
) -> list[float]:
    """:func:`bm25_scores` of texts already cut into :func:`words`."""
    docs = [Counter(t) for t in texts]
    if not docs:
        return []
    lengths = [len(t) for t in texts]
    average = sum(lengths) / len(docs) or 1.0
    terms = set(query)
    idf: dict[str, float] = {}
    for term in terms:
        holding = sum(1 for d in docs if term in d)
        idf[term] = math.log(1 + (len(docs) - holding + 0.5) / (holding + 0.5))
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        score = 0.0
        for term in terms:
            freq = doc.get(term, 0)
            if freq:
                score += idf[term] * freq * (k1 + 1) / (freq + norm)
        scores.append(score)
    return scores


def jaccard(a: set[str], b: set[str]) -> float:
    """Overlap of two word sets (1: the same words; 0: none shared, or both empty)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0
