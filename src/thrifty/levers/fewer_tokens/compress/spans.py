"""Protected spans: the parts of a prompt no transform may alter.

Code (fenced blocks, inline code, indented code lines), quoted text (double quotes, curly
quotes, single quotes around a phrase, ``>`` block quotes), URLs and e-mail addresses,
numbers, and identifiers (a word holding a digit, ``snake_case`` and ``CamelCase`` names)
are found by one regular expression, leftmost first.  The detection is deliberately
generous: a false positive only means a little less compression.

A text is cut into :class:`Segment` s: prose, which transforms may edit, and protected
spans, which they copy verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS = (
    # fenced code: ``` or ~~~ to the matching fence, or to the end of the text
    r"(?ms:^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*(?P=fence)[ \t]*$|\Z))",
    r"`[^`\n]+`",  # inline code
    r"(?m:^(?: {4}|\t)[^\n]*\S[^\n]*$)",  # indented code lines (and nested lists: harmless)
    r"(?m:^[ \t]*>[^\n]*$)",  # block quotes
    r"(?i:\b(?:https?|ftp|file|s3|gs|mailto|data):[^\s<>\"'`]+)",  # URLs
    r"(?i:\bwww\.[^\s<>\"'`]+)",
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail addresses
    r"\"[^\"\n]{0,500}\"",  # "quoted"
    r"\u201c[^\u201d\n]{0,500}\u201d",  # curly quotes
    r"\u2018[^\u2019\n]{0,500}\u2019",
    r"(?<![\w'])'[^'\n]{1,500}'(?![\w'])",  # 'quoted', not an apostrophe
    r"[-+]?\d[\w.,:/%+-]*",  # numbers, dates, versions, amounts
    r"\b\w*\d\w*(?:[-./:]\w+)*",  # IDs holding a digit: INV-2024-001, user42, a1b2c3
    r"\b[A-Za-z]\w*_\w+",  # snake_case and SCREAMING_CASE names
    r"\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*",  # camelCase and CamelCase names
)
PROTECTED = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a text: ``protected`` pieces are copied verbatim by every transform."""

    text: str
    protected: bool


def protected_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each protected span of ``text``, in order, not overlapping."""
    return [m.span() for m in PROTECTED.finditer(text) if m.end() > m.start()]


def segments(text: str) -> list[Segment]:
    """``text`` cut into prose and protected segments (their texts join back to it)."""
    out: list[Segment] = []
    at = 0
    for start, end in protected_spans(text):
        if start > at:
            out.append(Segment(text[at:start], False))
        out.append(Segment(text[start:end], True))
        at = end
    if at < len(text):
        out.append(Segment(text[at:], False))
    return out


def has_protected(text: str) -> bool:
    return PROTECTED.search(text) is not None
