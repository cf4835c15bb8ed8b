"""A text's characters beyond ASCII, from its UTF-8 bytes, are the ones it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from thrifty.utf8_text import beyond_ascii


@given(st.text(st.characters(codec=None, exclude_categories=())))
def test_the_characters_beyond_ascii_in_order(text: str) -> None:
    utf8 = text.encode("utf-8", "surrogatepass")
    assert beyond_ascii(utf8) == "".join(c for c in text if not c.isascii())


def test_a_lone_surrogate_passes_through() -> None:
    assert beyond_ascii("a\ud800é".encode("utf-8", "surrogatepass")) == "\ud800é"
