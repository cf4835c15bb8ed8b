"""Fences and the lines they cover are found in one pass: the same fences as the search back
to each mark's line start, the same lines as counting from the text's start, and no blow-up
on many backticks on one line or many fences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import dedupe, spans


def pieces(*choices: str, size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=size).map("".join)


FENCE_TEXTS = pieces("```", "~~~", "````", "`", "~", " ", "\t", "\n", "x")


def fences_before(source: str) -> list[spans.Span]:
    """The old loop: each mark's line looked at from its start (a search back per mark)."""
    out: list[spans.Span] = []
    at = 0
    while True:
        found = [i for i in (source.find("```", at), source.find("~~~", at)) if i >= 0]
        if not found:
            return out
        mark = min(found)
        line_start = source.rfind("\n", 0, mark) + 1
        run = mark
        while run < len(source) and source[run] == source[mark]:
            run += 1
        if source[line_start:mark].strip(" \t"):
            at = run
            continue
        end = spans._closing(source, run, source[mark], run - mark)
        out.append((line_start, end))
        at = end


@settings(max_examples=1000, deadline=None)
@given(FENCE_TEXTS)
def test_fences_are_those_the_search_back_finds(source: str) -> None:
    assert spans.fences(source) == fences_before(source)


@settings(max_examples=500, deadline=None)
@given(FENCE_TEXTS)
def test_code_lines_are_counted_as_from_the_start(source: str) -> None:
    found = spans.fences(source)
    expected: set[int] = set()
    for start, end in found:
        first = source.count("\n", 0, start)
        expected.update(range(first, first + source.count("\n", start, end) + 1))
    assert dedupe._code_lines(source, found) == expected


@pytest.mark.timeout(30)
def test_no_blow_up_on_many_backticks_on_one_line() -> None:
    source = "a```" * 800_000  # each mark's line was searched back to the text's start
    assert spans.fences(source) == []


@pytest.mark.timeout(30)
def test_no_blow_up_on_many_code_lines() -> None:
    source = "```\n```\n" * 200_000  # the lines before each fence counted from the start
    assert len(dedupe._code_lines(source, spans.fences(source))) == 400_000
