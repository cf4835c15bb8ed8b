"""A proven lower bound on a text's token count, for the price of a split.

Enough for a decision that only needs "at least N tokens" (the prompt-cache planner's
minimum cacheable length): when the bound reaches N, the text need not be counted.

Why it holds, in ``o200k_base`` and ``cl100k_base`` alike (the patterns are in
:mod:`thrifty.tokens.encodings`): every pre-token gives at least one token, so the
pre-tokens are a lower bound; and every whitespace-separated chunk of the text (Python's
``str.split``) starts a pre-token of its own, unless the chunk's first character shares a
pre-token with the chunk before.  A pre-token holds a blank between two other characters
only in the punctuation rule (`` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*``): through its tail, a
line break followed by ``/`` (counted: ``"\\n/"``, ``"\\r/"``), or through its body, one of
the four separators ``\\x1c``-``\\x1f`` that Python splits on but the tokenizers' ``\\s``
does not (every character the tokenizers call blank, Unicode's White_Space, Python
splits on too: ``tests/tokens/test_bounds.py`` checks both lists).  Each such place joins
at most two chunks, so::

    tokens >= chunks - (places where two chunks may share a pre-token)

On prose the bound is about 70% of the count, on code about half (bench/token_estimate.py).
"""

from __future__ import annotations

# Characters str.split() treats as blanks but Unicode's White_Space (the tokenizers' \s)
# does not.
SPLIT_ONLY_BLANKS = "\x1c\x1d\x1e\x1f"
_JOINS = ("\n/", "\r/", *SPLIT_ONLY_BLANKS)


def least_tokens(text: str) -> int:
    """A lower bound on ``text``'s tokens in ``o200k_base`` and ``cl100k_base`` (text
    only, no chat framing; see the module docs for the proof)."""
    chunks = len(text.split())
    if not chunks:
        return 0
    # str.count is slow for these short needles; a one-character `in` (memchr) is not, and
    # on most texts none of their first characters occurs (JSON text holds no raw "\n").
    return max(0, chunks - sum(text.count(join) for join in _JOINS if join[0] in text))
