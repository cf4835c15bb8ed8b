"""A long text cut where its token count splits exactly: after a blank line.

Both encodings first cut a text into pre-tokens with a regular expression (tiktoken's
``pat_str``, :mod:`thrifty.tokens.encodings`), and byte-pair merges never cross a
pre-token; so a text's count is the sum of its parts' counts if every cut falls between
two pre-tokens.  A cut right after a newline that is followed by a character that is
neither blank nor ``/`` is such a place, in ``o200k_base`` and ``cl100k_base`` alike:

* no pre-token holds a newline followed by another character, except the punctuation one
  (`` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*``), whose tail may run on over newlines and slashes;
  hence the ``/``;
* a run of blanks that ends in a newline is one pre-token (``\\s*[\\r\\n]+``), or, at the
  end of a part, the same characters matched by ``\\s++$`` (cl100k): the same text, the
  same tokens;
* no expression looks behind, so the part after the cut is cut as it was in the whole.

:func:`pieces` cuts only after blank lines, and only after a paragraph of at least
``min_chars`` characters (short ones join the next: encoding many tiny pieces costs more
than it saves), so that a paragraph keeps its piece, and its count, when the text around
it changes: :class:`~thrifty.tokens.TokenCounter` remembers counts piece by piece, and a
prompt that is new but made of known paragraphs (a system prompt compressed in one place,
documents counted on their own before) costs only what changed.
``tests/tokens/test_pieces.py`` checks the sum against whole counts.
"""

from __future__ import annotations

_BREAK = "\n\n"


def pieces(text: str, min_chars: int = 64) -> list[str]:
    """``text`` cut after blank lines where the cut is exact (see the module docs) and the
    paragraph before it has ``min_chars`` characters or more: the pieces join back to
    ``text``."""
    parts = text.split(_BREAK)
    if len(parts) == 1:
        return parts
    out: list[str] = []
    current = previous = parts[0]
    for part in parts[1:]:
        if len(previous) >= min_chars and part and not part[0].isspace() and part[0] != "/":
            out.append(current + _BREAK)
            current = part
        else:
            current = current + _BREAK + part
        previous = part
    out.append(current)
    return out
