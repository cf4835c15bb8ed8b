"""The lower bound on a text's tokens never exceeds its count, in either encoding."""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, TokenCounter
from thrifty.tokens.bounds import SPLIT_ONLY_BLANKS, least_tokens

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
