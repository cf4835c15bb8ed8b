"""Whether a JSON opener starts a line is read from the blanks just before it: the same
answer as the slice of its line, and no blow-up on a long line of braces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import json_text, text


def pieces(*choices: str, size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=size).map("".join)


@settings(max_examples=1000, deadline=None)
@given(pieces("{", "[", " ", "\n", "\t", "\r", "\x0c", "\u00a0", "\u2028", "\x85", "x"))
def test_the_openers_that_open_a_line_are_those_the_slice_says(source: str) -> None:
    expected = [
        at
        for at in range(len(source))
        if source[at] in "{[" and not source[source.rfind("\n", 0, at) + 1 : at].strip()
    ]
    assert json_text._line_openers(source) == expected


@pytest.mark.timeout(30)
def test_no_blow_up_on_many_braces_on_one_line() -> None:
    source = "x{" * 1_000_000  # each brace's line sliced from its start
    assert text.minify_json(source) == source
