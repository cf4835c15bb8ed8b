"""Counting a long text paragraph by paragraph gives its exact count, and a paragraph
counted once is not encoded again."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, TokenCounter
from thrifty.tokens.counter import PIECE_MIN_CHARS
from thrifty.tokens.pieces import pieces

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
@given(st.lists(BITS, max_size=40).map("".join))
def test_pieces_count_exactly_what_the_whole_counts(counter: TokenCounter, text: str) -> None:
    parts = pieces(text, min_chars=1)  # every exact cut
    assert "".join(parts) == text
    assert "".join(pieces(text)) == text
    for name in ENCODINGS:
        encoding = counter.encoding(name)
        whole = len(encoding.encode_ordinary(text))
        assert sum(len(encoding.encode_ordinary(p)) for p in parts) == whole, (name, parts)


def test_a_text_is_cut_after_line_breaks_only_where_exact() -> None:
    text = "First.\n\nSecond.\n\n/path follows\n\n  indented\n\nLast."
    assert pieces(text, min_chars=1) == [
        "First.\n\n",
        "Second.\n\n/path follows\n\n  indented\n\n",
        "Last.",
    ]
    assert pieces("one paragraph") == ["one paragraph"]


def test_short_lines_join_a_neighbour() -> None:
    long = "A paragraph long enough to end a piece on its own, surely it is. "
    text = f"Title\n\n{long}\n\nShort.\n\nAlso short.\n\n{long}\n\nEnd."
    assert pieces(text, min_chars=len(long)) == [
        "Title\n\n",
        f"{long}\n\n",
        "Short.\n\nAlso short.\n\n",
        f"{long}\n\n",
        "End.",
    ]


def test_a_paragraph_counted_once_is_not_encoded_again() -> None:
    real = TokenCounter()
    encoded: list[str] = []

    class Spy:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(text)
            return real.encoding("o200k_base").encode_ordinary(text)

    counter = TokenCounter(loader=lambda name: Spy())  # type: ignore[arg-type,return-value]
    known = "A paragraph of the system prompt, long enough to be remembered. " * 2
    first = known + "\n\n" + "Question one?"
    second = known + "\n\n" + "A different question, asked later?"
    assert len(known) >= PIECE_MIN_CHARS
    one = counter.count_text("gpt-4o", first * 3).tokens
    assert one == real.count_text("gpt-4o", first * 3).tokens
    encoded.clear()
    two = counter.count_text("gpt-4o", second * 3).tokens
    assert two == real.count_text("gpt-4o", second * 3).tokens
    assert known + "\n\n" not in encoded  # remembered: only the new paragraphs encoded
    assert encoded and all("different question" in text for text in encoded)


LINES = st.lists(
    st.sampled_from(
        [
            "A line of prose that is long enough to stand as a piece of its own here.",
            "Short.",
            "- a list item",
            "",
            "  indented code",
            "/path/to/file",
            "```",
            "Another sentence, of middling length, ends.",
        ]
    ),
    min_size=1,
    max_size=20,
).map("\n".join)


@RELAXED
@given(LINES, LINES)
def test_a_text_between_tags_keeps_its_inner_pieces(before: str, text: str) -> None:
    """Context selection counts a document alone; the history stage and the planner then
    count it inside the last message, between tags: only its first and last pieces may be
    new there."""
    text = "Doc: " + text  # starts at an exact place, as a stripped document does
    alone = pieces(text)
    wrapped = f"{before}\n<document>\n{text}\n</document>\n</documents>\n\nQuestion?"
    assert "".join(pieces(wrapped)) == wrapped
    inner = alone[1:-1]
    within = pieces(wrapped)
    assert all(piece in within for piece in inner), (alone, within)
