"""Protected spans: the parts of a prompt no transform may alter.

Two kinds, found separately because they matter to different transforms:

* **Code and quotes** (:func:`code_and_quotes`): fenced code blocks, inline code, indented
  code lines, ``>`` block quotes, and quoted text (double quotes, curly quotes, single
  quotes around a phrase).  These hold whitespace, so every whitespace transform skips
  them.
* **Tokens** (:data:`TOKENS`): URLs, e-mail addresses, numbers, and identifiers (a word
  holding a digit, ``snake_case`` and ``CamelCase`` names).  They hold no whitespace, so
  whitespace transforms cannot touch them; only the rarer clean-ups that delete other
  characters (invisible characters, HTML comments) mask them too.

The detection is deliberately generous (a false positive costs a little compression,
never meaning), and fast: each construct is looked for only when its opening character
is in the text, with an expression that starts with that character.  Overlapping spans
are merged.
"""

from __future__ import annotations

import re

_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINE = re.compile(r"\n(?:(?: {4}|\t)[ \t]*\S|[ \t]*>)[^\n]*")  # indented code, block quotes
_QUOTES = (
    ('"', re.compile(r"\"[^\"\n]{0,500}\"")),
    ("\u201c", re.compile("\u201c[^\u201d\\n]{0,500}\u201d")),
    ("\u2018", re.compile("\u2018[^\u2019\\n]{0,500}\u2019")),
    ("'", re.compile(r"'(?<![\w']')[^'\n]{1,500}'(?![\w'])")),  # not an apostrophe
)
TOKENS = re.compile(
    "|".join(
        (
            r"(?i:\b(?:https?|ftp|file|s3|gs|mailto|data):[^\s<>\"'`]+)",  # URLs
            r"(?i:\bwww\.[^\s<>\"'`]+)",
            r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail addresses
            r"[-+]?\d[\w.,:/%+-]*",  # numbers, dates, versions, amounts
            r"\b\w*\d\w*(?:[-./:]\w+)*",  # IDs holding a digit: INV-2024-001, user42
            r"\b[A-Za-z]\w*_\w+",  # snake_case and SCREAMING_CASE names
            r"\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*",  # camelCase and CamelCase names
        )
    )
)

# Runs of non-blank characters holding something every alternative of TOKENS needs (a
# digit, "_", "@", ":", "www.", a lower-case letter before a capital), one after another.
# No token holds a blank, so TOKENS finds in such a run, scanned alone, exactly what it
# finds there in the whole text; a run without any of these holds no token.
_TOKEN_RUNS = re.compile(
    r"(?<!\S)\S*?(?:\d|[_@:]|[a-z][A-Z]|(?i:www\.))\S*"
    r"(?:\s+\S*?(?:\d|[_@:]|[a-z][A-Z]|(?i:www\.))\S*)*"
)

Span = tuple[int, int]


def token_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Where :data:`TOKENS` matches in ``text`` (between ``start`` and ``end``, which must
    be at blanks or the text's ends): the spans ``TOKENS.finditer(text)`` gives there,
    found faster by scanning only the runs of :data:`_TOKEN_RUNS` (most of a prose text
    holds no token, and the alternation is slow to try at every character)."""
    find = TOKENS.finditer
    runs = _TOKEN_RUNS.finditer(text, start, len(text) if end is None else end)
    return [m.span() for run in runs for m in find(text, *run.span())]


def fences(text: str) -> list[Span]:
    """Fenced code blocks: from a line opening with three or more backticks or tildes to a
    line of at least as many of the same (or to the end of the text)."""
    if "```" not in text and "~~~" not in text:
        return []
    out: list[Span] = []
    size = len(text)
    at = 0
    next_mark = {"`": text.find("```"), "~": text.find("~~~")}
    while True:
        for char, found in next_mark.items():
            if 0 <= found < at:
                next_mark[char] = text.find(char * 3, at)
        mark = min((i for i in next_mark.values() if i >= 0), default=size)
        if mark == size:
            return out
        line_start = text.rfind("\n", 0, mark) + 1
        char = text[mark]
        run = mark
        while run < size and text[run] == char:
            run += 1
        if text[line_start:mark].strip(" \t"):  # not at the start of a line
            at = run
            continue
        end = _closing(text, run, char, run - mark)
        out.append((line_start, end))
        at = end


def _closing(text: str, after: int, char: str, length: int) -> int:
    """The end of the line that closes a fence of ``length`` ``char`` s opened before
    ``after`` (a later line of at least as many), or the end of the text."""
    needle = char * length
    at = after
    while (found := text.find(needle, at)) >= 0:
        line_start = text.rfind("\n", 0, found) + 1
        line_end = text.find("\n", found)
        line_end = len(text) if line_end < 0 else line_end
        line = text[line_start:line_end].strip(" \t")
        if line_start > after and line == char * len(line):
            return line_end
        at = line_end
    return len(text)


def code_and_quotes(text: str) -> list[Span]:
    """Code and quoted text in ``text``: sorted, merged ``(start, end)`` spans."""
    found = fences(text)
    if "`" in text:
        found += [m.span() for m in _INLINE_CODE.finditer(text)]
    if "\n    " in text or "\n\t" in text or ">" in text or text.startswith(("    ", "\t")):
        # matched after a "\n" put in front, so the positions are already the text's own
        found += [(m.start(), m.end() - 1) for m in _LINE.finditer("\n" + text)]
    for opener, pattern in _QUOTES:
        if opener in text:
            found += [m.span() for m in pattern.finditer(text)]
    return merged(found)


def merged(spans: list[Span]) -> list[Span]:
    """``spans`` sorted, with overlapping or touching ones joined."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def protected_spans(text: str) -> list[Span]:
    """Every protected span of ``text`` (code, quotes and tokens), sorted and merged."""
    return merged(code_and_quotes(text) + token_spans(text))
