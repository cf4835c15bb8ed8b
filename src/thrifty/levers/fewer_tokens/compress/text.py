"""Transforms of one text: whitespace and markup normalisation, JSON minification.

Both edit prose only (see :mod:`.spans`); minification removes whitespace *between* JSON
tokens and keeps every string and number exactly as written (a JSON parser never
re-serialises it, so ``1.0`` stays ``1.0``).
"""

from __future__ import annotations

import re

import orjson

from thrifty.levers.fewer_tokens.compress.spans import (
    Span,
    code_and_quotes,
    fences,
    merged,
    token_spans,
)

_ODD = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_NON_BLANKS = re.compile(r"\S+")
_SEPARATOR = re.compile(r"\n {0,3}([-=*_])\1{3,}[ \t]*(?=\n|\Z)")
_SEPARATOR_HINTS = ("----", "====", "****", "____")
_BLANKS = re.compile(r"[ \t]{2,}")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A protected span stands in the text being cleaned as OPEN + its number + CLOSE
# (private-use characters: a text that holds them is left as it is).
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
# Whitespace between JSON tokens (strings are matched whole, so theirs is kept).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+|[^" \t\r\n]+', re.S)


def normalise(text: str) -> str:
    """Whitespace and markup normalised, outside protected spans: invisible characters
    dropped, odd spaces made plain, HTML comments removed, decorative rules (``=====``)
    shortened to three characters, trailing whitespace removed, runs of spaces inside a
    line made one (indentation is kept), blank lines collapsed to one, and blank lines at
    either end removed.  A text that would be left empty is returned as it was."""
    deleting = "<!--" in text or (not text.isascii() and _ODD.search(text) is not None)
    if not deleting and not _untidy(text):
        return text  # the common case for a prompt seen before: nothing to do
    if not text.strip() or _OPEN in text or _CLOSE in text:
        return text
    # Deleting clean-ups mask the URLs, numbers and IDs they could touch too; otherwise
    # code blocks only (the rest of a line's code and quotes are found line by line).
    spans = merged(code_and_quotes(text) + _deletable_tokens(text)) if deleting else fences(text)
    masked, kept = _masked(text, spans)
    out = _cleaned(masked, deleting)
    if kept:
        out = _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], out)
    return out if out.strip() else text


def _deletable_tokens(text: str) -> list[Span]:
    """The token spans (:func:`~.spans.token_spans`) a deleting clean-up could touch: those
    in a run of non-blank characters that holds an invisible character, and those in the
    runs an HTML comment covers (a comment holding one is kept).  The odd spaces are
    blanks, never inside a token; a token holds no blank, so the tokens found in such
    runs, scanned alone, are the ones the whole text's scan finds there."""
    found = [m.span() for m in _INVISIBLE.finditer(text)]
    if "<!--" in text:
        found += html_comments(text)
    regions = _regions_around(text, found)
    return [span for start, end in regions for span in token_spans(text, start, end)]


def _regions_around(text: str, spans: list[Span]) -> list[Span]:
    """``merged`` of each span (starting and ending on a non-blank character) widened to
    the blanks, or the text's ends, around it: from the start of the run of non-blank
    characters holding its first character to the end of the run holding its last.

    One sweep in start order, each character looked at about once: a region ends where a
    run ends (before a blank, or at the text's end), so a span that starts inside it
    only extends it forward, and a walk back from a span after it stops at that blank at
    the latest (a walk back per span cost time in the square of the length on a text of
    many spans and few blanks)."""
    regions: list[Span] = []
    for start, end in sorted(spans):
        if regions and start <= regions[-1][1]:
            first, last = regions[-1]
            if end > last:
                run = _NON_BLANKS.match(text, end)
                regions[-1] = (first, run.end() if run is not None else end)
            continue
        first = start
        while first > 0 and not text[first - 1].isspace():
            first -= 1
        run = _NON_BLANKS.match(text, end)
        regions.append((first, run.end() if run is not None else end))
    return regions


def html_comments(text: str, unless: str | None = None) -> list[Span]:
    """The HTML comments of ``text`` as ``re.finditer("<!--.*?-->", text, re.S)`` finds
    them (each from an opening to the first ``-->`` after it), in one pass: the next
    closing and the next ``unless`` character are remembered, not searched for again from
    every opening (the lazy pattern costs time in the square of the text's length on
    many openings without a closing).  With ``unless``, a comment holding that character
    is not one, as ``<!--[^X]*?-->`` finds them: its opening is passed over."""
    found: list[Span] = []
    at = text.find("<!--")
    close = barrier = -1
    while at >= 0:
        if close < at + 4:
            close = text.find("-->", at + 4)
            if close < 0:
                break
        if unless is not None:
            if barrier < at + 4:
                barrier = text.find(unless, at + 4)
                if barrier < 0:
                    unless = None  # none left: no comment from here on holds one
            if unless is not None and barrier < close:
                at = text.find("<!--", at + 1)
                continue
        found.append((at, close + 3))
        at = text.find("<!--", close + 3)
    return found


def without(text: str, spans: list[Span]) -> str:
    """``text`` with ``spans`` (in order, not overlapping) removed."""
    if not spans:
        return text
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(text[at:start])
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def _untidy(text: str) -> bool:
    """Whether a whitespace or markup clean-up could change ``text``."""
    return (
        "  " in text
        or "\t" in text
        or " \n" in text
        or "\n\n\n" in text
        or text[:1].isspace()
        or text[-1:].isspace()
        or any(hint in text for hint in _SEPARATOR_HINTS)
    )


def _masked(text: str, spans: list[Span]) -> tuple[str, list[str]]:
    if not spans:
        return text, []
    pieces: list[str] = []
    kept: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(text[at:start])
        pieces.append(f"{_OPEN}{len(kept)}{_CLOSE}")
        kept.append(text[start:end])
        at = end
    pieces.append(text[at:])
    return "".join(pieces), kept


def _tidy_line(body: str) -> str:
    """A line (indentation removed) with its runs of blanks made one space and its end
    trimmed, outside inline code and quotes."""
    spans = code_and_quotes(body)
    if not spans:
        return _BLANKS.sub(" ", body).rstrip(" \t")
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(_BLANKS.sub(" ", body[at:start]))
        pieces.append(body[start:end])
        at = end
    pieces.append(_BLANKS.sub(" ", body[at:]).rstrip(" \t"))
    return "".join(pieces)


def _is_code_line(line: str) -> bool:
    """An indented code line or a block quote: kept as it is, trailing blanks and all."""
    return line.startswith(("    ", "\t")) or line.lstrip(" ").startswith(">")


def _cleaned(text: str, deleting: bool) -> str:
    if deleting:
        text = _INVISIBLE.sub("", text)
        text = _ODD_SPACES.sub(" ", text)
        text = without(text, html_comments(text, unless=_OPEN))  # not one holding a span
    if any(hint in text for hint in _SEPARATOR_HINTS):
        text = _SEPARATOR.sub(lambda m: "\n" + m.group(1) * 3, "\n" + text)[1:]
    if "  " in text or "\t" in text or " \n" in text or text[-1:] in (" ", "\t"):
        lines = text.split("\n")
        for index, line in enumerate(lines):
            body = line.lstrip(" \t")
            if not body:
                lines[index] = ""
            elif ("  " in body or "\t" in body or body[-1] in " \t") and not _is_code_line(line):
                lines[index] = line[: len(line) - len(body)] + _tidy_line(body)
        text = "\n".join(lines)
    text = _BLANK_LINES.sub("\n\n", text)
    rest = text.lstrip(" \t\n")
    first_line = text.rfind("\n", 0, len(text) - len(rest)) + 1
    return text[first_line:].rstrip()


def minify_json(text: str) -> str:
    """``text`` with each paragraph that is a whole JSON object or array written without
    whitespace between tokens; anything else unchanged."""
    if not _opens_a_line(text, "{") and not _opens_a_line(text, "["):  # no JSON here
        return text
    stripped = text.strip()
    if _is_json(stripped):
        return _minified(stripped)
    pieces = _PARAGRAPH_BREAK.split(text)
    if len(pieces) == 1:
        return text
    separators = _PARAGRAPH_BREAK.findall(text)
    changed = False
    out: list[str] = []
    for index, piece in enumerate(pieces):
        body = piece.strip()
        if _is_json(body):
            lead = piece[: len(piece) - len(piece.lstrip())]
            piece = lead + _minified(body)
            changed = True
        out.append(piece)
        if index < len(separators):
            out.append(separators[index])
    joined = "".join(out)
    return joined if changed else text


def _opens_a_line(text: str, opener: str) -> bool:
    """Whether ``opener`` is the first character of a line but blanks (as a JSON
    paragraph's first character is).  Only the blanks just before each ``opener`` are
    looked at (each once), not its line up to it: a long line of many openers would cost
    time in the square of its length."""
    at = text.find(opener)
    while at >= 0:
        start = at
        while start > 0 and text[start - 1] != "\n" and text[start - 1].isspace():
            start -= 1
        if start == 0 or text[start - 1] == "\n":
            return True
        at = text.find(opener, at + 1)
    return False


def _is_json(text: str) -> bool:
    if len(text) < 2 or text[0] not in "{[" or not any(c in text for c in " \n\t\r"):
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _minified(text: str) -> str:
    return "".join(t for t in _JSON_TOKEN.findall(text) if not t[0].isspace())
