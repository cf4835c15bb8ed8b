"""The deleting clean-ups find HTML comments and the runs around them in one pass: the
same spans as the lazy patterns and the character walk they replace, and no blow-up on
texts of many comments (or openings, or invisible characters) and few blanks."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import text as transforms
from thrifty.levers.fewer_tokens.compress.spans import merged
from thrifty.levers.fewer_tokens.compress.text import html_comments, normalise

PIECES = st.lists(
    st.sampled_from(["<!--", "-->", "<!-->", "--", "-", ">", "<", "!", "x", " ", "\n", "\ue000"]),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(PIECES)
def test_comments_are_those_the_lazy_patterns_find(text: str) -> None:
    assert html_comments(text) == [m.span() for m in re.finditer("<!--.*?-->", text, re.S)]
    assert html_comments(text, unless="\ue000") == [
        m.span() for m in re.finditer("<!--[^\ue000]*?-->", text)
    ]


def walked(text: str, start: int, end: int) -> tuple[int, int]:
    """The old widening: walk back to a blank, then forward over the run at the end."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    run = re.compile(r"\S+").match(text, end)
    return start, run.end() if run is not None else end


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["ab", " ", "\n", "\u200b", "<!-- c -->", "x\u200bx"])).map("".join)
)
def test_regions_are_the_merged_walks_they_replace(text: str) -> None:
    spans = [m.span() for m in re.finditer("\u200b", text)]
    spans += [m.span() for m in re.finditer("<!--.*?-->", text, re.S)]
    assert transforms._regions_around(text, spans) == merged([walked(text, *s) for s in spans])


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "<!---->" * 20_000,  # many comments, no blank: each walked back to the start before
        "ab\u200b" * 20_000,  # many invisible characters, no blank
        "<!--" * 20_000 + "x",  # many openings, no closing: each searched to the end before
        "<!-- \ue000 " * 5_000 + "-->",  # openings held back by a protected span
    ],
)
def test_no_blow_up_on_many_marks_and_few_blanks(text: str) -> None:
    """Each of these took minutes of CPU (time in the square of the length) before the
    one-pass search; now a fraction of a second."""
    out = normalise(text)
    assert "\u200b" not in out
    assert len(out) <= len(text)
