"""``compress/text.py`` as it was before its cheaper rewrites (normalisation and JSON
minification), kept whole as the reference ``test_compress_text_equivalence`` compares the
current module with."""

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

_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff"
_ODD_SPACE_CHARS = "\u00a0\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_INVISIBLE = re.compile(f"[{_INVISIBLES}]")
_ODD_SPACES = re.compile(f"[{_ODD_SPACE_CHARS}]")
_NON_BLANKS = re.compile(r"\S+")
_SEPARATOR_LINE = re.compile(r" {0,3}([-=*_])\1{3,}[ \t]*(?=\n|\Z)")
_SEPARATOR_HINTS = ("----", "====", "****", "____")
_BLANKS = re.compile(r"[ \t]{2,}")
_SPAN_OPENERS = "`~>\"'\u201c\u2018"  # what code_and_quotes needs to find a span in a line
# Two spaces after a character of a line that is not a blank (in a text without tabs).
_BODY_BLANKS = re.compile("  (?<=[^ \n]  )")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# Each protected span stands in the text being cleaned as OPEN + CLOSE (private-use
# characters: a text that holds them is left as it is); they are put back in order.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = _OPEN + _CLOSE
# Whitespace between JSON tokens (strings are matched whole, so theirs is kept).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+|[^" \t\r\n]+', re.S)


def normalise(text: str) -> str:
    """Whitespace and markup normalised, outside protected spans: invisible characters
    dropped, odd spaces made plain, HTML comments removed, decorative rules (``=====``)
    shortened to three characters, trailing whitespace removed, runs of spaces inside a
    line made one (indentation is kept), blank lines collapsed to one, and blank lines at
    either end removed.  A text that would be left empty is returned as it was."""
    invisible = _holds_any(text, _INVISIBLES)
    odd = invisible or _holds_any(text, _ODD_SPACE_CHARS)
    deleting = odd or "<!--" in text
    if not deleting and not _untidy(text):
        return text  # the common case for a prompt seen before: nothing to do
    if not text.strip() or _holds_any(text, _CLOSE + _OPEN):
        return text
    # Deleting clean-ups mask the URLs, numbers and IDs they could touch too; otherwise
    # code blocks only (the rest of a line's code and quotes are found line by line).
    if deleting:
        spans = code_and_quotes(text)  # merged already: merged again only with tokens
        tokens = _deletable_tokens(text, invisible)
        if tokens:
            spans = merged(spans + tokens)
    else:
        spans = fences(text)
    masked, kept = _masked(text, spans)
    out = _cleaned(masked, deleting, odd)
    if kept:
        out = _unmasked(out, kept)
    return out if out.strip() else text


def _holds_any(text: str, chars: str) -> bool:
    """Whether ``text`` holds one of ``chars`` (none of them ASCII): a search for each
    character, quicker than a character class's on a long text."""
    return not text.isascii() and any(map(text.__contains__, chars))


def _deletable_tokens(text: str, invisible: bool) -> list[Span]:
    """The token spans (:func:`~.spans.token_spans`) a deleting clean-up could touch: those
    in a run of non-blank characters that holds an invisible character, and those in the
    runs an HTML comment covers (a comment holding one is kept).  The odd spaces are
    blanks, never inside a token; a token holds no blank, so the tokens found in such
    runs, scanned alone, are the ones the whole text's scan finds there.  ``invisible``:
    whether the text holds an invisible character."""
    found = [m.span() for m in _INVISIBLE.finditer(text)] if invisible else []
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
    """``text`` with each span (in order, not overlapping) replaced by the placeholder, and
    the spans' texts (built with ``map`` and one join: a prompt may hold hundreds)."""
    if not spans:
        return text, []
    starts, ends = zip(*spans, strict=True)
    kept = list(map(text.__getitem__, map(slice, starts, ends)))
    gaps = map(text.__getitem__, map(slice, (0, *ends), (*starts, len(text))))
    return _PLACEHOLDER.join(gaps), kept


def _unmasked(text: str, kept: list[str]) -> str:
    """``text`` with the placeholders replaced by the spans they stand for, in order (no
    clean-up removes or moves one: they hold no blank and are never in a comment)."""
    pieces = [""] * (2 * len(kept) + 1)
    pieces[0::2] = text.split(_PLACEHOLDER)
    pieces[1::2] = kept
    return "".join(pieces)


def _tidy_line(body: str) -> str:
    """A line (indentation removed) with its runs of blanks made one space and its end
    trimmed, outside inline code and quotes.  A body without a character that opens code
    or a quote has none (it holds no line break and starts with no blank, so only ``>``
    could open an indented line's or a block quote's span)."""
    spans = code_and_quotes(body) if any(map(body.__contains__, _SPAN_OPENERS)) else []
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


def _shortened_separators(text: str) -> str:
    """``text`` with each decorative rule (a line of four or more ``-``, ``=``, ``*`` or
    ``_`` after at most three spaces, blanks after it) shortened to three characters.
    Only the lines that hold four of them in a row (found with ``str.find``) are tried."""
    starts: set[int] = set()
    for hint in _SEPARATOR_HINTS:
        at = text.find(hint) if hint[0] in text else -1
        while at >= 0:
            starts.add(text.rfind("\n", 0, at) + 1)
            end = text.find("\n", at)
            at = text.find(hint, end) if end >= 0 else -1
    pieces: list[str] = []
    done = 0
    for start in sorted(starts):
        rule = _SEPARATOR_LINE.match(text, start)
        if rule is not None:
            pieces += (text[done:start], rule.group(1) * 3)
            done = rule.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _tidied(line: str) -> str:
    """A line with its runs of blanks made one and its end trimmed (a line of blanks made
    empty), but for its indentation and its code and quotes (a code line is kept)."""
    body = line.lstrip(" \t")
    if not body:
        return ""
    if ("  " in body or "\t" in body or body[-1] in " \t") and not _is_code_line(line):
        return line[: len(line) - len(body)] + _tidy_line(body)
    return line


def _tidied_lines(text: str) -> str:
    """``text`` with each line :func:`_tidied`, for a text without tabs.  Only the lines
    that can change are looked at (most lines of a prompt cannot): those with two blanks
    after a character that is not a blank (past their indentation), found by an expression
    that starts with the two blanks (the search is quick between them), and those ending
    with a blank."""
    size = len(text)
    spots: list[tuple[int, int]] = []  # (start, end) of each line that may change
    found = _BODY_BLANKS.search(text)
    while found is not None:
        at = found.start()
        end = text.find("\n", at)
        end = size if end < 0 else end
        spots.append((text.rfind("\n", 0, at) + 1, end))
        found = _BODY_BLANKS.search(text, end)
    at = text.find(" \n")
    while at >= 0:
        spots.append((text.rfind("\n", 0, at) + 1, at + 1))
        at = text.find(" \n", at + 2)
    if text[-1:] == " ":
        spots.append((text.rfind("\n") + 1, size))
    if not spots:
        return text
    pieces: list[str] = []
    done = 0  # the end of the last line rewritten
    for start, end in sorted(spots):
        if start < done:
            continue  # the same line twice
        pieces.append(text[done:start])
        pieces.append(_tidied(text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _cleaned(text: str, deleting: bool, odd: bool) -> str:
    """``text`` (its protected spans masked) cleaned; ``odd``: whether it holds invisible
    characters or odd spaces."""
    if deleting:
        if odd:
            text = _INVISIBLE.sub("", text)
            text = _ODD_SPACES.sub(" ", text)
        text = without(text, html_comments(text, unless=_OPEN))  # not one holding a span
    text = _shortened_separators(text)
    if "\t" in text:
        text = "\n".join(map(_tidied, text.split("\n")))
    elif "  " in text or " \n" in text or text[-1:] == " ":
        text = _tidied_lines(text)
    if "\n\n\n" in text:  # no line is blanks alone now: a run of blank lines is "\n\n\n..."
        text = _BLANK_LINES.sub("\n\n", text)
    rest = text.lstrip(" \t\n")
    first_line = text.rfind("\n", 0, len(text) - len(rest)) + 1
    return text[first_line:].rstrip()


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
    if len(text) < 2 or text[0] not in "{[" or not any(c in text for c in " \n\t\r"):
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _minified(text: str) -> str:
    return "".join(t for t in _JSON_TOKEN.findall(text) if not t[0].isspace())
