"""Counting uses bpe-openai's Rust tokenizer: its counts are tiktoken's, to the token, for
every encoding and any text, and loading it does not import the bpe-openai package."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, TokenCounter
from thrifty.tokens.encodings import load_count

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=500)

# The characters each pre-tokenizer rule turns on: letters of every case class, marks,
# digits of several scripts, contractions, blanks of every kind, line breaks, slashes,
# punctuation runs, special-token text, surrogates.
BITS = st.sampled_from(
    [
        "a",
        "Z",
        "word",
        "WORD",
        "Ǆ",
        "ǅ",
        "\u0301",
        "é",
        "日本",
        "😀",
        "1",
        "12345",
        "٣",
        "Ⅷ",
        "'s",
        "'LL",
        "'re",
        " ",
        "   ",
        "\t",
        "\u00a0",
        "\u2028",
        "\u3000",
        "\x1c",
        "\n",
        "\r\n",
        "\n\n",
        "/",
        "//",
        ".",
        "...",
        "-",
        "----------",
        "#",
        "```",
        "{",
        '"',
        "<|endoftext|>",
        "<|endofprompt|>",
        "https://example.com/a?b=1",
    ]
)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


@RELAXED
@given(st.lists(BITS, max_size=60).map("".join))
def test_counts_are_tiktokens_on_every_rule(counter: TokenCounter, text: str) -> None:
    for name in ENCODINGS:
        assert load_count(name)(text) == len(counter.encoding(name).encode_ordinary(text))


@RELAXED
@given(st.text(max_size=200))
def test_counts_are_tiktokens_on_any_text(counter: TokenCounter, text: str) -> None:
    for name in ENCODINGS:
        assert load_count(name)(text) == len(counter.encoding(name).encode_ordinary(text))


def test_lone_surrogates_count_as_tiktoken_counts_them(counter: TokenCounter) -> None:
    text = "before \ud800 after \udfff"
    for name in ENCODINGS:
        assert load_count(name)(text) == len(counter.encoding(name).encode_ordinary(text))


def test_the_counter_counts_with_it(counter: TokenCounter) -> None:
    text = "A sentence to count.\n" * 40
    tokens = counter.count_text("gpt-4o", text).tokens
    assert tokens == len(counter.encoding("o200k_base").encode_ordinary(text))
    assert counter.counting("o200k_base") is counter.counting("o200k_base")  # loaded once


def test_loading_it_does_not_import_the_package() -> None:
    """Importing ``bpe_openai`` reads every encoding it knows into dictionaries (seconds,
    ~150 MB): counting loads the extension alone."""
    code = (
        "import sys; from thrifty.tokens.encodings import load_count; "
        "assert load_count('o200k_base')('hello world') == 2; "
        "assert 'bpe_openai' not in sys.modules, sorted(m for m in sys.modules if 'bpe' in m); "
        "import bpe_openai; print(bpe_openai.get_encoding('o200k_base').encode('hello world'))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[24912, 2375]"  # the package still imports after it
