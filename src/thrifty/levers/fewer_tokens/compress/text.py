"""Transforms of one text: whitespace and markup normalisation, JSON minification.

Both edit prose only (see :mod:`.spans`); minification removes whitespace *between* JSON
tokens and keeps every string and number exactly as written (a JSON parser never
re-serialises it, so ``1.0`` stays ``1.0``).
"""

from __future__ import annotations

import re

import orjson

from thrifty.levers.fewer_tokens.compress.spans import segments

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SEPARATOR = re.compile(r"(?m)^[ \t]*([-=*_#~])\1{3,}[ \t]*$")
_TRAILING = re.compile(r"[ \t]+(?=\n)")
_EDGE_RUN_START = re.compile(r"\A[ \t]{2,}")
_EDGE_RUN_END = re.compile(r"[ \t]{2,}\Z")
_INNER_RUN = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_LEADING_BLANKS = re.compile(r"\A(?:[ \t]*\n)+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# Whitespace between JSON tokens (strings are matched whole, so theirs is kept).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+|[^" \t\r\n]+', re.S)


def normalise(text: str) -> str:
    """Whitespace and markup normalised, outside protected spans: invisible characters
    dropped, odd spaces made plain, HTML comments removed, decorative rules (``=====``)
    shortened to ``---``, trailing whitespace removed, runs of spaces inside a line made
    one (indentation is kept), blank lines collapsed to one, and blank lines at either end
    removed.  A text that would be left empty is returned as it was."""
    pieces = segments(text)
    parts: list[str] = []
    for index, segment in enumerate(pieces):
        if segment.protected:
            parts.append(segment.text)
            continue
        prose = _INVISIBLE.sub("", segment.text)
        prose = _ODD_SPACES.sub(" ", prose)
        prose = _HTML_COMMENT.sub("", prose)
        prose = _SEPARATOR.sub("---", prose)
        prose = _TRAILING.sub("", prose)
        prose = _INNER_RUN.sub(" ", prose)
        prose = _BLANK_LINES.sub("\n\n", prose)
        # At the text's ends: no blank lines; next to a protected span: one space.
        first, last = index == 0, index == len(pieces) - 1
        prose = _LEADING_BLANKS.sub("", prose) if first else _EDGE_RUN_START.sub(" ", prose)
        prose = prose.rstrip() if last else _EDGE_RUN_END.sub(" ", prose)
        parts.append(prose)
    joined = "".join(parts)
    return joined if joined.strip() else text


def minify_json(text: str) -> str:
    """``text`` with each paragraph that is a whole JSON object or array written without
    whitespace between tokens; anything else unchanged."""
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
