"""The lower bound on a text's tokens never exceeds its count, in either encoding."""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, TokenCounter
from thrifty.tokens.bounds import HEAD_CHARS_PER_TOKEN, SPLIT_ONLY_BLANKS, least_tokens

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=600)

# Unicode's White_Space property (PropList.txt): what \s matches in the tokenizers' regex.
WHITE_SPACE = {
    *map(chr, range(0x09, 0x0E)),
    " ",
    "\x85",
    "\xa0",
    "\u1680",
    *map(chr, range(0x2000, 0x200B)),
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
}

# Characters around the places where two chunks could share a pre-token.
BITS = st.sampled_from(
    [
        "a",
        "word",
        " word",
        "Word",
        "'s",
        "12",
        "1234",
        "é",
        "日本",
        ".",
        "...",
        "-",
        "/",
        "//",
        "\n",
        "\r",
        "\r\n",
        "\n/",
        " ",
        "  ",
        "\t",
        "\xa0",
        "\u3000",
        "\x85",
        "\x1c",
        "\x1f",
        "<|endoftext|>",
        "{",
        '"',
    ]
)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


def test_the_blanks_python_splits_on_are_the_tokenizers_and_four_more() -> None:
    python_blanks = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert python_blanks >= WHITE_SPACE
    assert python_blanks - WHITE_SPACE == set(SPLIT_ONLY_BLANKS)


@RELAXED
@given(st.lists(BITS, max_size=60).map("".join))
def test_the_bound_holds_around_every_rule(counter: TokenCounter, text: str) -> None:
    bound = least_tokens(text)
    for name in ENCODINGS:
        assert bound <= counter.counting(name)(text), name


@RELAXED
@given(st.text(max_size=300))
def test_the_bound_holds_on_any_text(counter: TokenCounter, text: str) -> None:
    bound = least_tokens(text)
    for name in ENCODINGS:
        assert bound <= counter.counting(name)(text), name


def test_the_bound_is_tight_enough_to_be_useful(counter: TokenCounter) -> None:
    prose = "The planner needs to know that a prefix is long enough to cache. " * 50
    exact = counter.counting("o200k_base")(prose)
    assert exact * 0.6 <= least_tokens(prose) <= exact
    assert least_tokens("") == least_tokens("   \n ") == 0
    assert least_tokens("./\n/./\n/.") == 1  # one pre-token, three chunks


@RELAXED
@given(st.lists(BITS, max_size=80).map("".join), st.integers(min_value=-2, max_value=12))
def test_a_leading_part_answers_at_least_or_the_whole_is_bounded(
    counter: TokenCounter, text: str, enough: int
) -> None:
    """``enough`` small enough that the leading part ends anywhere in the text (after
    blanks, inside a chunk, between ``\\n`` and ``/``): the answer is a lower bound on the
    count, and, unless it reaches ``enough``, exactly the whole text's bound."""
    whole = least_tokens(text)
    found = least_tokens(text, enough)
    for name in ENCODINGS:
        assert found <= counter.counting(name)(text), name
    head = HEAD_CHARS_PER_TOKEN * max(enough, 1)
    if head < len(text) and least_tokens(text[:head]) >= enough:
        assert found == least_tokens(text[:head])
    else:  # the part and the rest make the whole text's bound
        assert found == whole


BLANK_RUNS = st.text(alphabet=" \n\x1c\x1f", max_size=40)


@RELAXED
@given(BLANK_RUNS, st.lists(BITS, max_size=20).map("".join), BLANK_RUNS, st.integers(-2, 6))
def test_a_part_or_rest_of_blanks_alone_counts_its_joins(
    lead: str, middle: str, tail: str, enough: int
) -> None:
    """Blanks (split-only ones among them) at either end, so that the leading part or the
    rest holds no chunk: the answer is still the part's bound or the whole text's."""
    text = lead + middle + tail
    head = HEAD_CHARS_PER_TOKEN * max(enough, 1)
    found = least_tokens(text, enough)
    if head < len(text) and least_tokens(text[:head]) >= enough:
        assert found == least_tokens(text[:head])
    else:
        assert found == least_tokens(text)


def test_the_leading_part_is_cut_where_its_length_says() -> None:
    assert HEAD_CHARS_PER_TOKEN == 10  # the figures below are written for it
    text = "word " * 400  # 2,000 characters, 400 chunks
    # 10 tokens asked for: a 100-character part holds 20 chunks, enough.
    assert least_tokens(text, 10) == 20
    assert least_tokens(text, 100) == 200  # 1,000 characters
    assert least_tokens(text, 200) == 400  # a part as long as the text: the whole is read
    assert least_tokens(text, 10**6) == least_tokens(text) == 400
    # Parts of 20 characters that fall short of 2: the cut goes through a chunk, and
    # through a "\n/", each counted once.
    through_a_chunk = "a" * 24 + " b" * 10
    assert least_tokens(through_a_chunk, 2) == least_tokens(through_a_chunk) == 11
    through_a_join = "x" * 19 + "\n/y" + " z" * 10
    assert least_tokens(through_a_join, 2) == least_tokens(through_a_join) == 11
    # A part or a rest of blanks alone: its split-only blanks are joins all the same.
    blank_rest = "a" * 20 + "\x1c" * 9
    assert least_tokens(blank_rest, 2) == least_tokens(blank_rest) == 0
    blank_part = "\x1c" * 10 + " b" * 11
    assert least_tokens(blank_part, 1) == least_tokens(blank_part) == 1


def test_least_text_scales_what_is_asked_for(counter: TokenCounter) -> None:
    text = "word " * 2_000
    fresh = TokenCounter()  # nothing remembered: a remembered text's bound is its count
    asked = fresh.least_text("claude-sonnet-4-6", text, enough=500)
    assert asked < fresh.least_text("claude-sonnet-4-6", text)  # the rest was not read
    assert 500 <= asked <= counter.count_text("claude-sonnet-4-6", text).tokens
    assert fresh.least_text("gpt-4o", text, enough=500) >= 500
