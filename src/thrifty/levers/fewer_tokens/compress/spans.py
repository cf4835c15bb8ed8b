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
_EMAIL_CHARS = r"[\w.+-]"
_EMAIL_REST = r"@[\w-]+(?:\.[\w-]+)+"


def _tokens(email: str) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            (
                r"(?i:\b(?:https?|ftp|file|s3|gs|mailto|data):[^\s<>\"'`]+)",  # URLs
                r"(?i:\bwww\.[^\s<>\"'`]+)",
                email,  # e-mail addresses
                r"[-+]?\d[\w.,:/%+-]*",  # numbers, dates, versions, amounts
                r"\b\w*\d\w*(?:[-./:]\w+)*",  # IDs holding a digit: INV-2024-001, user42
                r"\b[A-Za-z]\w*_\w+",  # snake_case and SCREAMING_CASE names
                r"\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*",  # camelCase and CamelCase names
            )
        )
    )


TOKENS = _tokens(f"{_EMAIL_CHARS}+{_EMAIL_REST}")
# The same, but an e-mail address is tried only where a run of the characters that may
# open one starts.  Tried at every character, the e-mail expression reads to the end of
# the run each time (time in the square of the run's length on a long run without "@").
_TOKENS_AT_RUN_STARTS = _tokens(f"(?<!{_EMAIL_CHARS}){_EMAIL_CHARS}+{_EMAIL_REST}")
_EMAIL_RUN = re.compile(f"{_EMAIL_CHARS}+")
_EMAIL_CHAR = re.compile(_EMAIL_CHARS)
_EMAIL_TAIL = re.compile(_EMAIL_REST)

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
    runs = _TOKEN_RUNS.finditer(text, start, len(text) if end is None else end)
    return [span for run in runs for span in _tokens_in(text, *run.span())]


def _tokens_in(text: str, start: int, end: int) -> list[Span]:
    """``TOKENS.finditer(text, start, end)``'s spans, in one pass.  An e-mail address
    found from inside a run of the characters that may open one ends where one found from
    the run's start does (at the ``@`` that ends the run), so
    :data:`_TOKENS_AT_RUN_STARTS` finds what ``TOKENS`` does, but right after a match that
    ends inside such a run: ``TOKENS`` tries an address there, and whether the run is
    followed by one is looked up once for the run."""
    found: list[Span] = []
    at = start
    run_end = -1  # the end of the last run looked up, not followed by an address
    while at < end:
        inside = at > 0 and _EMAIL_CHAR.match(text, at - 1) is not None
        if inside and at >= run_end and (run := _EMAIL_RUN.match(text, at, end)) is not None:
            close = run.end()
            address = _EMAIL_TAIL.match(text, close, end) is not None
            if address and (match := TOKENS.match(text, at, end)) is not None:
                found.append(match.span())  # the address, or a URL that starts there
                at = match.end()
                continue
            run_end = close
        match = _TOKENS_AT_RUN_STARTS.search(text, at, end)
        if match is None:
            break
        found.append(match.span())
        at = match.end()
    return found


def fences(text: str) -> list[Span]:
    """Fenced code blocks: from a line opening with three or more backticks or tildes to a
    line of at least as many of the same (or to the end of the text)."""
    ticks = text.find("```")  # the next marks of each kind (-1: none left)
    tildes = text.find("~~~") if "~" in text else -1
    out: list[Span] = []
    size = len(text)
    at = 0
    while True:
        if 0 <= ticks < at:
            ticks = text.find("```", at)
        if 0 <= tildes < at:
            tildes = text.find("~~~", at)
        mark = tildes if ticks < 0 else ticks if tildes < 0 else min(ticks, tildes)
        if mark < 0:
            return out
        line_start = mark
        while line_start > 0 and text[line_start - 1] in " \t":
            line_start -= 1
        char = text[mark]
        run = mark
        while run < size and text[run] == char:
            run += 1
        if line_start > 0 and text[line_start - 1] != "\n":  # not at the start of a line
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
    return merged(fences(text) + line_spans(text))


def line_spans(text: str) -> list[Span]:
    """The code and quotes of ``text`` that lie within a line (all but fenced code): inline
    code, indented code lines, block quotes and quoted text, in no order, not merged.
    None holds a line break, and what a lookaround sees past a line's ends is a line break
    or the text's end, both neither a word character nor a quote: each line's are found
    alone as in the whole text, so those of lines picked from a text and joined with line
    breaks are those of the same lines in the text."""
    found: list[Span] = []
    if "`" in text:
        found += [m.span() for m in _INLINE_CODE.finditer(text)]
    if ">" in text or "\n    " in text or "\n\t" in text or text.startswith(("    ", "\t")):
        # matched after a "\n" put in front, so the positions are already the text's own
        found += [(m.start(), m.end() - 1) for m in _LINE.finditer("\n" + text)]
    for opener, pattern in _QUOTES:
        if opener in text:
            found += [m.span() for m in pattern.finditer(text)]
    return found


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
