"""Normalisation and JSON minification give exactly what they gave before their cheaper
rewrites: the module as it was is kept whole (``compress_text_before``), and both run on
generated text rich in what they look at (comments whole and broken, quotes, code,
fences, tabs, odd and invisible characters, rules, blank lines, JSON).

* a deleting clean-up (HTML comments, odd spaces) masks the code, quotes and tokens of
  the lines it may change, found in those lines alone (not in the whole text);
* the characters beyond ASCII are looked for in the text's own non-ASCII characters, and
  odd characters replaced one by one (not with a character class);
* rules are found by one search from line breaks (not a search for each kind);
* blank lines are collapsed by a search for three line breaks;
* JSON is minified by its tokens found at once (whitespace is what the search skips).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.levers.fewer_tokens.compress_text_before import minify_json, normalise
from thrifty.levers.fewer_tokens.compress import text as current

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1500)

BITS = st.sampled_from(
    [
        "word",
        "Word",
        "é",
        "\U0001f600",
        " ",
        "  ",
        "   ",
        "\n",
        "\n\n",
        "\n\n\n",
        "\n    ",
        "\n  ",
        "\n\t",
        "\t",
        " \n",
        "\r",
        "\r\n",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x85",
        "\u2028",
        "\u200b",
        "\ufeff",
        "\u00a0",
        "\u3000",
        "\u2003",
        "<!--",
        "-->",
        "<!-->",
        "<!-- note -->",
        "<!-- a\nb -->",
        "<!- -",
        "42",
        "v1.2",
        "user_name",
        "camelCase",
        "https://example.com/a?b=1",
        "a@b.io",
        '"',
        "'",
        "'s",
        "\u201c",
        "\u201d",
        "\u2018",
        "\u2019",
        "`",
        "```",
        "\n```\n",
        "\n~~~\n",
        "\n> ",
        "\n> q\r",
        "\n    code\x0c",
        ">",
        "----",
        "\n---- ",
        "\n  ====",
        "\n***",
        "____",
        "{",
        "}",
        "[",
        "]",
        '{"a": [1, 2]}',
        ":",
        ",",
        ".",
        "-",
    ]
)
TEXTS = st.lists(BITS, max_size=60).map("".join)


def _same_either_way(text: str) -> None:
    """The rewrite gives what the module gave, as it is and with lines picked however many
    may change and however much of the text they are (a short text would otherwise have
    every line looked at)."""
    expected = normalise(text)
    assert current.normalise(text) == expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(current, "_CHARS_A_SPOT", 1)
        patch.setattr(current, "_PICKED_SHARE", 0)
        assert current.normalise(text) == expected


@RELAXED
@given(TEXTS)
def test_normalise_is_what_it_was(text: str) -> None:
    _same_either_way(text)


@RELAXED
@given(TEXTS, st.sampled_from(["", "\n", "\n\n", "  ", "<!-- x -->", "\u00a0"]))
def test_normalise_is_what_it_was_around_a_long_line(text: str, gap: str) -> None:
    """A quote more than 500 characters long is none: masking the code in a line changes
    what a line's quotes are, so the lines a deleting clean-up masks must be the same."""
    line = '"  a  `' + "x" * 520 + '`  b  "'
    _same_either_way(text + gap + line + gap + text)


@RELAXED
@given(TEXTS, st.sampled_from(["<!-- c -->", "\n<!-- a\nb -->\n", "\r\n<!-- c -->\u00a0"]))
def test_normalise_is_what_it_was_before_a_comment_at_the_end(text: str, tail: str) -> None:
    """Removing a comment that ends the text makes the line before it the last one."""
    _same_either_way(text + tail)


def test_normalise_keeps_what_it_kept_at_the_end_of_a_block_quote() -> None:
    """A deleting clean-up keeps the blanks that end the last line when a block quote
    masks them; the others trim them: still so, with the quote's line the only one
    masked."""
    for text in (
        "<!-- c -->\nSay:\n> quoted   ",
        "Say:\n> quoted   ",
        "a <!-- b\n> c -->  ",
        "<!--\n>\r",
        "<!--\n>\r\n\x0b",
        "<!--\n    code\x0c",
    ):
        _same_either_way(text)


def test_normalise_keeps_what_it_kept_before_a_comment_that_ends_the_text() -> None:
    """A comment that ends the text is removed, and the line before it is trimmed: but for
    the blanks a block quote or code line masks (a carriage return of a CRLF text too),
    with the quote's line no line the clean-up changes."""
    prose = "Some words without a blank at the end of the line, long enough.\n" * 8
    for tail in (
        "> quoted\r\n<!-- c -->",
        "    code\x0c\n<!-- a\nb -->\n",
        "> quoted\x85\n<!-- a -->\n\u00a0<!-- b -->\r\n",
    ):
        _same_either_way(prose + tail)
        _same_either_way(tail)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    value = draw(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(alphabet='ab "\\\n\t{}', max_size=8),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(alphabet="ab ", max_size=3), inner, max_size=4)
            ),
            max_leaves=12,
        )
    )
    indent = draw(st.sampled_from([None, 1, 2, 4]))
    around = draw(
        st.lists(st.sampled_from(["Text.", "\n\n", "\n", "  ", "[x]", "{y}"]), max_size=4)
    )
    at = draw(st.integers(0, len(around)))
    return "".join(around[:at]) + json.dumps(value, indent=indent) + "".join(around[at:])


@RELAXED
@given(st.one_of(json_texts(), TEXTS))
def test_minify_json_is_what_it_was(text: str) -> None:
    assert current.minify_json(text) == minify_json(text)
