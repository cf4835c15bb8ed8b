"""JSON minification: each paragraph that is a whole JSON object or array written without
whitespace between its tokens, every string and number kept exactly as written (a JSON
parser never re-serialises it, so ``1.0`` stays ``1.0``)."""

from __future__ import annotations

import re

import orjson

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# The tokens of a JSON text: strings matched whole (so their whitespace is kept), and runs
# of anything else but whitespace; the whitespace between them is what the search skips.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^" \t\r\n]+', re.S)


def minify_json(text: str) -> str:
    """``text`` with each paragraph that is a whole JSON object or array written without
    whitespace between tokens; anything else unchanged.

    Paragraphs are the pieces ``_PARAGRAPH_BREAK.split(text)`` gives, but only those whose
    first character but blanks is an opener are looked at (found from the openers that
    start a line: the rest of a prompt is never split, nor its pieces stripped)."""
    openers = _line_openers(text)
    if not openers:  # no JSON here
        return text
    stripped = text.strip()
    if _is_json(stripped):
        return _minified(stripped)
    pieces: list[str] = []
    done = 0  # where the text after the last paragraph minified starts
    for at in openers:
        if at < done or not _starts_a_paragraph(text, at):
            continue
        following = _PARAGRAPH_BREAK.search(text, at)
        end = len(text) if following is None else following.start()
        body = text[at:end].rstrip()
        if _is_json(body):
            pieces += (text[done:at], _minified(body))  # the blanks after the body go too
            done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _line_openers(text: str) -> list[int]:
    """Where ``{`` and ``[`` are the first character of a line but blanks (as a JSON
    paragraph's first character is), in order.  Only the blanks just before each opener
    are looked at (each once), not its line up to it: a long line of many openers would
    cost time in the square of its length."""
    found: list[int] = []
    for opener in "{[":
        at = text.find(opener)
        while at >= 0:
            start = at
            while start > 0 and text[start - 1] != "\n" and text[start - 1].isspace():
                start -= 1
            if start == 0 or text[start - 1] == "\n":
                found.append(at)
            at = text.find(opener, at + 1)
    found.sort()
    return found


def _starts_a_paragraph(text: str, at: int) -> bool:
    """Whether the character at ``at`` (not a blank) is the first one but blanks of a piece
    of ``_PARAGRAPH_BREAK.split(text)``: the blanks before it are the text's start, or hold
    a paragraph break.  A break is made of blanks, so the breaks the split finds among them
    are the ones a search from their start finds (the last character before them is not
    a blank: no break found before it reaches into them)."""
    first = at
    while first > 0 and text[first - 1].isspace():
        first -= 1
    return first == 0 or _PARAGRAPH_BREAK.search(text, first, at) is not None


def _is_json(text: str) -> bool:
    if len(text) < 2 or text[0] not in "{[":
        return False
    if " " not in text and "\n" not in text and "\t" not in text and "\r" not in text:
        return False  # nothing to remove
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _minified(text: str) -> str:
    """A JSON text (valid: no other character than the four whitespace ones of JSON is a
    blank outside its strings) without whitespace between its tokens."""
    return "".join(_JSON_TOKENS.findall(text))
