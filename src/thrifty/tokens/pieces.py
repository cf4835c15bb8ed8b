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

:func:`chunks` cuts a long text at such places into parts of at most ``max_chars``
characters where it can: :class:`~thrifty.tokens.TokenCounter` counts a text of 16,000
characters or more part by part, since fastokens counts an input of 64 KiB or more on
worker threads (several times the CPU time in all on a busy machine, and not the calling
thread's).  ``tests/tokens/test_pieces.py`` checks the sum against whole counts.
"""

from __future__ import annotations

import re

_PLACE = re.compile(r"\n(?=[^\s/])")


def chunks(text: str, max_chars: int) -> list[str]:
    """``text`` cut at the exact places of the module docs into parts of at most
    ``max_chars`` characters, each cut as late as it can be; a stretch with no exact place
    in ``max_chars`` characters runs on to the next one.  The parts join back to
    ``text``."""
    out: list[str] = []
    start = 0
    while len(text) - start > max_chars:
        cut = _last_place(text, start, start + max_chars)
        if cut is None:
            found = _PLACE.search(text, start + max_chars)
            if found is None:
                break
            cut = found.end()
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def _last_place(text: str, start: int, end: int) -> int | None:
    """The last exact place in ``text`` after ``start`` and at or before ``end``: after a
    line break followed by a character that is neither blank (``str.isspace``, which
    ``\\s`` matches in a ``str`` pattern) nor ``/``."""
    newline = text.rfind("\n", start, end)
    while newline >= start:
        after = text[newline + 1 : newline + 2]
        if after and not after.isspace() and after != "/":
            return newline + 1
        newline = text.rfind("\n", start, newline)
    return None
