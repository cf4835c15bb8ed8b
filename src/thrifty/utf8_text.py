"""A text's characters beyond ASCII, read from its UTF-8 bytes: the scans of compression
and context selection look at those few characters alone (a lower case of their own,
blanks, odd spaces) instead of walking the whole text in Python."""

from __future__ import annotations

_ASCII = bytes(range(128))


def beyond_ascii(utf8: bytes) -> str:
    """The characters of a UTF-8 text (lone surrogates passed through) that are not ASCII,
    in order: its bytes of 128 and up, decoded (a UTF-8 sequence is made of them alone)."""
    return utf8.translate(None, _ASCII).decode("utf-8", "surrogatepass")
