"""What differs between a cached query and a new one: the pair scorer's inputs.

Cosine similarity says how close two questions are overall; it does not say what differs.
Two questions a word apart are close whether that word is "the" or "Python": these
features read the words present in one question and not the other, weighted by how rare
they are (inverse document frequency: a rare word carries the topic), beside the cosine:

``cosine``, ``jaccard`` (shared words / all words), ``idf_diff`` (the IDF mass of the words
in one question only, over the mass of all their words), ``idf_only_cached`` and
``idf_only_query`` (each side's own words' IDF mass), ``max_idf_diff`` (the rarest word in
one question only), ``length_ratio`` (the shorter question's word count over the
longer's), ``lead_differs`` (the questions open with different question words: "how" /
"why"), ``same_words`` (the same set of words).

Words are lower-cased runs of letters and digits; :class:`Vocabulary` maps a word to its
IDF (a word it does not hold is as rare as the rarest it does).  Everything here is plain
Python and deterministic: a pair's features take a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["FEATURE_NAMES", "Vocabulary", "pair_features", "words_of"]

FEATURE_NAMES: tuple[str, ...] = (
    "cosine",
    "jaccard",
    "idf_diff",
    "idf_only_cached",
    "idf_only_query",
    "max_idf_diff",
    "length_ratio",
    "lead_differs",
    "same_words",
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_QUESTION_TEXT = (
    "what how why which who whom whose when where is are was were can could do does did "
    "should would will shall has have may might"
)
_QUESTION_WORDS = frozenset(_QUESTION_TEXT.split())


@lru_cache(maxsize=4096)
def words_of(text: str) -> tuple[str, ...]:
    """The lower-cased words of ``text`` in order (apostrophes dropped: "don't" is "dont")."""
    return tuple(_WORD.findall(text.casefold().replace("'", "").replace("’", "")))


def _lead(words: tuple[str, ...]) -> str:
    """The first question word among the first three words ("" when there is none)."""
    return next((w for w in words[:3] if w in _QUESTION_WORDS), "")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Word -> inverse document frequency; ``unknown`` for a word it does not hold."""

    idf: Mapping[str, float]
    unknown: float

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.unknown)


def pair_features(
    cached: str, query: str, cosine: float, vocabulary: Vocabulary
) -> tuple[float, ...]:
    """The features of :data:`FEATURE_NAMES`, in that order."""
    cached_words, query_words = words_of(cached), words_of(query)
    one, two = set(cached_words), set(query_words)
    union = one | two
    only_one, only_two = one - two, two - one
    weight = vocabulary.weight
    union_mass = sum(weight(w) for w in union)
    mass_one = sum(weight(w) for w in only_one)
    mass_two = sum(weight(w) for w in only_two)
    differing = only_one | only_two
    longer = max(len(cached_words), len(query_words))
    return (
        cosine,
        len(one & two) / len(union) if union else 1.0,
        (mass_one + mass_two) / union_mass if union_mass else 0.0,
        mass_one,
        mass_two,
        max((weight(w) for w in differing), default=0.0),
        min(len(cached_words), len(query_words)) / longer if longer else 1.0,
        float(_lead(cached_words) != _lead(query_words)),
        float(one == two),
    )
