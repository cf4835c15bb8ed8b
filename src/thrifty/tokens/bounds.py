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

The bound of a text's leading part is a lower bound on the whole text's tokens too: each
chunk of the part starts a chunk of the text at the same place, and the places where such a
chunk may share a pre-token with the one before lie inside the part (a ``"\\n/"`` ends with
the chunk's first character; a separator comes before it), where they are counted.  So a
question "at least N?" is answered from the part once its bound reaches N
(``least_tokens(text, enough=N)``), and the rest of a long text is never split.
"""

from __future__ import annotations

# Characters str.split() treats as blanks but Unicode's White_Space (the tokenizers' \s)
# does not.
SPLIT_ONLY_BLANKS = "\x1c\x1d\x1e\x1f"
_JOINS = ("\n/", "\r/", *SPLIT_ONLY_BLANKS)


# Characters of the leading part read first, per token asked for: a system prompt's JSON
# has 7-10 characters per token of its bound (p10-p90), so the part is most often enough.
HEAD_CHARS_PER_TOKEN = 10


def least_tokens(text: str, enough: int | None = None) -> int:
    """A lower bound on ``text``'s tokens in ``o200k_base`` and ``cl100k_base`` (text
    only, no chat framing; see the module docs for the proof).

    With ``enough``, a long text's leading part (``HEAD_CHARS_PER_TOKEN`` characters per
    token asked for) is bounded first, and its bound, a lower bound on the whole text's
    (module docs), is the answer if it reaches ``enough``; otherwise the rest is bounded
    and the two make exactly the whole text's bound, each character read once."""
    head = len(text) if enough is None else HEAD_CHARS_PER_TOKEN * max(enough, 1)
    if head < len(text):  # a part that falls short costs nothing: its work is kept
        part, rest = text[:head], text[head:]
        chunks, joins = _chunks_and_joins(part)
        if enough is not None and max(0, chunks - joins) >= enough:
            return max(0, chunks - joins)
        more_chunks, more_joins = _chunks_and_joins(rest)
        chunks += more_chunks
        joins += more_joins
        if not part[-1].isspace() and not rest[0].isspace():
            chunks -= 1  # a chunk the cut goes through is one chunk
        if part[-1] + rest[0] in _JOINS:
            joins += 1  # a "\n/" the cut goes through
    else:
        chunks, joins = _chunks_and_joins(text)
    return max(0, chunks - joins) if chunks else 0


def _chunks_and_joins(text: str) -> tuple[int, int]:
    """The whitespace-separated chunks of ``text``, and the places where two of them may
    share a pre-token (counted in a text of blanks alone too: a part of a text may be)."""
    chunks = len(text.split())
    # str.count is slow for these short needles; a one-character `in` (memchr) is not, and
    # on most texts none of their first characters occurs (JSON text holds no raw "\n").
    return chunks, sum(text.count(join) for join in _JOINS if join[0] in text)
