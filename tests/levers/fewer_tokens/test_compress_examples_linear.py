"""Few-shot examples are found and trimmed in one pass: the same blocks as the lazy pattern,
the same texts as cutting one example at a time, and no blow-up on many tags, many fences or
many examples to drop."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import examples


def pieces(*choices: str, size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=size).map("".join)


TAGGED = re.compile(r"<example(?:\s[^>]*)?>.*?</example>[ \t]*\n?", re.S | re.I)
EXAMPLE_TEXTS = pieces(
    "<example", "<EXAMPLE", "<Example ", ">", " ", "\n", "\t", "</example>", "</Example>",
    "</example", "x", "a=1", "```\n", "\u212a",
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(EXAMPLE_TEXTS)
def test_tagged_examples_are_those_the_pattern_finds(source: str) -> None:
    assert examples.tagged(source) == [m.span() for m in TAGGED.finditer(source)]


def trimmed_before(texts: list[str], query: str, keep: int) -> list[str]:
    """The old trimming: each dropped example cut out of its text by slicing, from the
    end of each text."""
    found = examples.find_examples(texts)
    asked = examples.words(query)
    if len(found) <= keep or not asked:
        return texts

    def score(example: examples.Example) -> float:
        own = examples.words(example.text)
        return len(own & asked) / len(own) ** 0.5 if own else 0.0

    ranked = sorted(range(len(found)), key=lambda i: (-score(found[i]), i))
    out = list(texts)
    for i in sorted(ranked[keep:], key=lambda i: (found[i].slot, -found[i].start)):
        example = found[i]
        out[example.slot] = out[example.slot][: example.start] + out[example.slot][example.end :]
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        pieces("<example>", "</example>", "alpha ", "beta ", "gamma ", "\n", "## Example\n"),
        min_size=1,
        max_size=3,
    ),
    st.integers(1, 3),
)
def test_trimming_keeps_what_slicing_kept(texts: list[str], keep: int) -> None:
    trimmed, _ = examples.trim_examples(texts, ["x"] * len(texts), "alpha gamma", keep)
    assert trimmed == trimmed_before(texts, "alpha gamma", keep)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "source",
    [
        "<example>" * 50_000,  # openings without a closing: each searched to the end
        "<example " * 50_000,  # openings without a ">"
        "```\n```\n" * 30_000 + "<example>a</example>" * 30_000,  # each against each fence
    ],
)
def test_no_blow_up_on_many_example_tags(source: str) -> None:
    assert len(examples.find_examples([source])) in (0, 30_000)


@pytest.mark.timeout(60)
def test_no_blow_up_trimming_many_examples() -> None:
    source = "<example>alpha</example>" * 300_000  # the text copied once per example dropped
    trimmed, removals = examples.trim_examples([source], ["x"], "alpha", 1)
    assert trimmed == ["<example>alpha</example>"]
    assert len(removals) == 299_999
