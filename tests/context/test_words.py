"""The word cutting and the duplicate check's shortcut are exact: ``words`` gives what
``\\w+`` finds in the lower-cased text, on any text (ASCII text takes a faster path),
``word_bytes`` the same words in UTF-8, BM25 over those bytes the same scores to the last
bit, and the Jaccard bound from the sizes is never below the overlap itself."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from thrifty.context.bm25 import (
    bm25_of_bags,
    bm25_of_terms,
    jaccard,
    jaccard_at_most,
    word_bytes,
    words,
)

ASCII = st.text(alphabet=st.characters(max_codepoint=127))
# Characters whose lower case is ASCII (the Kelvin sign's is "k"), and others around.
MIXED = st.text(
    alphabet=st.sampled_from(
        [
            "K",
            "İ",
            "é",
            "_",
            "-",
            "a",
            "Z",
            "9",
            " ",
            "\x1c",
            "’",
            "—",
            "\u00a0",
            "🙂",
            "\ud800",
            "文",
        ]
    )
)
MANY_OTHERS = st.text(alphabet=st.characters(min_codepoint=0x2010, max_codepoint=0x2060))


@given(st.one_of(ASCII, MIXED, MANY_OTHERS, st.text()))
def test_words_are_the_regex_words_of_the_lower_cased_text(text: str) -> None:
    assert words(text) == re.findall(r"\w+", text.lower())


@given(st.one_of(ASCII, MIXED, MANY_OTHERS, st.text()))
def test_word_bytes_are_the_words_in_utf8(text: str) -> None:
    assert word_bytes(text) == [w.encode() for w in re.findall(r"\w+", text.lower())]


@given(st.lists(st.one_of(MIXED, MANY_OTHERS, st.text()), max_size=6), MIXED)
def test_bm25_over_bytes_scores_as_over_words(texts: list[str], query: str) -> None:
    """The query's terms in the order of its ``str`` set, encoded: the same sums."""
    cut = [words(t) for t in texts]
    expected = bm25_of_bags(words(query), [Counter(w) for w in cut], [len(w) for w in cut])
    cut_bytes = [word_bytes(t) for t in texts]
    terms = [term.encode() for term in set(words(query))]
    bags = [Counter(w) for w in cut_bytes]
    assert bm25_of_terms(terms, bags, [len(w) for w in cut_bytes]) == expected


@given(st.sets(st.integers(0, 30)), st.sets(st.integers(0, 30)))
def test_the_size_bound_is_at_least_the_overlap(a: set[int], b: set[int]) -> None:
    as_words, bs_words = {str(i) for i in a}, {str(i) for i in b}
    assert jaccard(as_words, bs_words) <= jaccard_at_most(len(a), len(b))
    if as_words <= bs_words or bs_words <= as_words:  # one holds the other: reached
        assert jaccard(as_words, bs_words) == jaccard_at_most(len(a), len(b))
