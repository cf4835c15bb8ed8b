"""Tokens (URLs, e-mail addresses, numbers, IDs) are found in one pass: the same spans as
the expression, and no blow-up on a long run of the characters an e-mail address opens with
and no "@" (the expression read the run from each of its characters)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import spans, text


def pieces(*choices: str, size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=size).map("".join)


TOKEN_TEXTS = pieces(
    "a", "1", ".", "-", "+", "_", "@", ":", "/", "A", "www.", "http:", "x@y.z", "%", ",",
    "b2", "Ab", "aB", "@a", ".c", " ", "\n", "\u00e9",
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(TOKEN_TEXTS, st.integers(0, 40), st.integers(0, 40))
def test_tokens_are_those_the_expression_finds(source: str, start: int, size: int) -> None:
    start = min(start, len(source))
    end = min(start + size, len(source))
    expected = [m.span() for m in spans.TOKENS.finditer(source, start, end)]
    assert spans._tokens_in(source, start, end) == expected


@settings(max_examples=300, deadline=None)
@given(TOKEN_TEXTS)
def test_token_spans_are_those_of_the_whole_text(source: str) -> None:
    assert spans.token_spans(source) == [m.span() for m in spans.TOKENS.finditer(source)]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "source",
    [
        "a" * 200_000 + "-1\u200b",  # an e-mail tried from each of 200,000 characters
        ".a" * 100_000 + "1\u200b",
    ],
)
def test_no_blow_up_on_a_long_run_without_an_address(source: str) -> None:
    """Minutes of CPU before (the e-mail expression read the run from every character)."""
    assert "\u200b" not in text.normalise(source)
