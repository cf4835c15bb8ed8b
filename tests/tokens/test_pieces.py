"""Counting a long text in parts cut at exact places gives its exact count; a long text
counted once is not encoded again."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, TokenCounter
from thrifty.tokens.counter import CHUNK_MAX_CHARS, MEMO_MIN_CHARS
from thrifty.tokens.pieces import _PLACE, chunks

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


# What sits around a cut: newlines, blanks, slashes, punctuation, letters, digits.
BITS = st.sampled_from(
    [
        "\n",
        "\n\n",
        "\n\n\n",
        "\r\n",
        " ",
        "  ",
        "\t",
        "\u00a0",
        "/",
        "//",
        ".",
        ":",
        "...",
        "'s",
        "'ll",
        "word",
        "Word",
        "WORD",
        "über",
        "日本語",
        "12345",
        "<|endoftext|>",
        "#",
        "- ",
        "}",
        "```",
    ]
)


@RELAXED
@given(st.lists(BITS, max_size=40).map("".join), st.integers(min_value=1, max_value=40))
def test_chunks_count_exactly_what_the_whole_counts(
    counter: TokenCounter, text: str, max_chars: int
) -> None:
    parts = chunks(text, max_chars)
    assert "".join(parts) == text
    assert all(parts) or parts == [""]
    for part in parts:  # longer only where no exact place came in time
        places = [m.end() for m in _PLACE.finditer(part)]
        assert len(part) <= max_chars or not [p for p in places if p <= max_chars], parts
    for name in ENCODINGS:
        encoding = counter.encoding(name)
        whole = len(encoding.encode_ordinary(text))
        assert sum(len(encoding.encode_ordinary(p)) for p in parts) == whole, (name, parts)


def test_a_text_is_cut_after_line_breaks_only_where_exact() -> None:
    text = "First.\n\nSecond.\n\n/path follows\n\n  indented\n\nLast."
    assert chunks(text, 8) == [
        "First.\n\n",
        "Second.\n\n/path follows\n\n  indented\n\n",
        "Last.",
    ]
    assert chunks("one paragraph", 4) == ["one paragraph"]
    assert chunks("", 4) == [""]


def test_cuts_come_as_late_as_they_can() -> None:
    assert chunks("aa\nbb\ncc\ndd", 6) == ["aa\nbb\n", "cc\ndd"]


class Spy:
    def __init__(self, real: TokenCounter) -> None:
        self.real = real
        self.encoded: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.encoded.append(text)
        return self.real.encoding("o200k_base").encode_ordinary(text)


def test_a_long_text_counted_once_is_not_encoded_again(counter: TokenCounter) -> None:
    spy = Spy(counter)
    counting = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    text = "A paragraph of the system prompt, long enough to be remembered. " * 5
    assert len(text) >= MEMO_MIN_CHARS
    expected = counter.count_text("gpt-4o", text).tokens
    assert counting.count_text("gpt-4o", text).tokens == expected
    assert counting.count_text("gpt-4o", text).tokens == expected
    assert spy.encoded == [text]  # whole, once
    short = "Short."
    counting.count_text("gpt-4o", short)
    counting.count_text("gpt-4o", short)
    assert spy.encoded.count(short) == 2  # short texts are not remembered


def test_a_very_long_text_is_counted_in_parts_exactly(counter: TokenCounter) -> None:
    spy = Spy(counter)
    counting = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    line = "Line of a long log, with 42 numbers and words — and punctuation!\n"
    text = line * (3 * CHUNK_MAX_CHARS // len(line))
    tokens = counting.count_text("gpt-4o", text).tokens
    assert tokens == len(counter.encoding("o200k_base").encode_ordinary(text))
    assert len(spy.encoded) >= 3
    assert all(len(part) <= CHUNK_MAX_CHARS for part in spy.encoded)
    assert "".join(spy.encoded) == text


def test_a_long_line_without_an_exact_place_is_counted_whole(counter: TokenCounter) -> None:
    spy = Spy(counter)
    counting = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    text = "word " * CHUNK_MAX_CHARS
    tokens = counting.count_text("gpt-4o", text).tokens
    assert tokens == len(counter.encoding("o200k_base").encode_ordinary(text))
    assert spy.encoded == [text]
