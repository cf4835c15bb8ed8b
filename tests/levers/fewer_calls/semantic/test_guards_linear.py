"""The guards find the words that start a sentence in one pass: the same words as the
pattern searched over the text up to each word, and no blow-up on a long text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_calls.semantic import guards

# The expression each word's start was searched with before (the text up to the word).
SENTENCE_START = re.compile(r"(?:^|[.?!:;\n])[\s\"'(\[*-]*$")

TEXTS = st.lists(
    st.sampled_from(
        [
            "Word",
            "word",
            "It's",
            "dogs'",
            "42",
            "3.5",
            "$",
            ".",
            "?",
            "!",
            ":",
            ";",
            ",",
            '"',
            "'",
            "(",
            "[",
            "*",
            "-",
            "\u2019",
            ")",
            "x",
            " ",
            "\n",
            "\t",
            "\u00a0",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_sentence_starts_are_those_the_pattern_finds(text: str) -> None:
    found = list(guards._WORD.finditer(text))
    expected = {i for i, m in enumerate(found) if SENTENCE_START.search(text, 0, m.start())}
    assert guards._sentence_starts(text, found) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_sentence_starts_on_any_text(text: str) -> None:
    found = list(guards._WORD.finditer(text))
    expected = {i for i, m in enumerate(found) if SENTENCE_START.search(text, 0, m.start())}
    assert guards._sentence_starts(text, found) == expected


def test_names_are_the_capitalised_words_not_starting_a_sentence() -> None:
    found = guards.features.__wrapped__('Ask Paris. "Then Rome" and London\n- Oslo')
    assert found.names == ("paris", "rome", "london")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "word " * 40_000,  # every word searched the text before it: minutes of CPU
        "Name, " * 30_000,
    ],
)
def test_no_blow_up_on_a_long_text(text: str) -> None:
    found = guards.features.__wrapped__(text)
    assert len(found.names) <= text.count(" ") + 1
