"""A long text cut where its token count splits exactly: after a line break.

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

:func:`pieces` cuts at such places only, and only next to a stretch (the text between
two such places) of ``min_chars`` characters or more: short lines join a neighbour, since
counting many tiny pieces costs more than it saves.  Whether a cut is made depends on the
two stretches beside it alone, so a line keeps its piece, and its count, when the text
around it changes (a document put between tags keeps its pieces but the first and last):
:class:`~thrifty.tokens.TokenCounter` remembers counts piece by piece, and a prompt that
is new but made of known lines (a system prompt compressed in one place, the documents
context selection counted, now inside the last message) costs only what changed.
``tests/tokens/test_pieces.py`` checks the sum against whole counts.
"""

from __future__ import annotations

import re

_PLACE = re.compile(r"\n(?=[^\s/])")


def pieces(text: str, min_chars: int = 64) -> list[str]:
    """``text`` cut at the exact places of the module docs where the stretch before the
    place (back to the previous one) or after it (on to the next one, or the end) has
    ``min_chars`` characters or more: the pieces join back to ``text``."""
    places = _exact_places(text)
    if not places:
        return [text]
    out: list[str] = []
    start = 0
    bounds = [0, *places, len(text)]
    for index in range(1, len(bounds) - 1):
        place = bounds[index]
        if place - bounds[index - 1] >= min_chars or bounds[index + 1] - place >= min_chars:
            out.append(text[start:place])
            start = place
    out.append(text[start:])
    return out


def _exact_places(text: str) -> list[int]:
    """Where ``text`` may be cut exactly: after a line break followed by a character that
    is neither blank (``str.isspace``, which ``\\s`` matches in a ``str`` pattern) nor
    ``/``."""
    return [match.end() for match in _PLACE.finditer(text)]
