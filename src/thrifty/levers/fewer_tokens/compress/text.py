"""Transforms of one text: whitespace and markup normalisation, and JSON minification
(:mod:`.json_text`, named here too).

Normalisation edits prose only (see :mod:`.spans`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from thrifty.levers.fewer_tokens.compress.json_text import minify_json as minify_json
from thrifty.levers.fewer_tokens.compress.spans import (
    Span,
    code_and_quotes,
    fences,
    line_spans,
    merged,
    token_spans,
)
from thrifty.utf8_text import beyond_ascii

_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff"
_ODD_SPACE_CHARS = "\u00a0\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_INVISIBLE = re.compile(f"[{_INVISIBLES}]")
_NON_BLANKS = re.compile(r"\S+")
_SEPARATOR_LINE = re.compile(r" {0,3}([-=*_])\1{3,}[ \t]*(?=\n|\Z)")
_SEPARATOR_AFTER_BREAK = re.compile(r"\n( {0,3}([-=*_])\2{3,}[ \t]*)(?=\n|\Z)")
_SEPARATOR_HINTS = ("----", "====", "****", "____")
_BLANKS = re.compile(r"[ \t]{2,}")
_SPAN_OPENERS = "`~>\"'\u201c\u2018"  # what code_and_quotes needs to find a span in a line
# Two spaces after a character of a line that is not a blank (in a text without tabs).
_BODY_BLANKS = re.compile("  (?<=[^ \n]  )")
# Blank lines, once no line is blanks alone (the literal start is found fast).
_BLANK_LINES = re.compile(r"\n\n\n+")
# Each protected span stands in the text being cleaned as OPEN + CLOSE (private-use
# characters: a text that holds them is left as it is); they are put back in order.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = _OPEN + _CLOSE
# A deleting clean-up finds the spans of every line when more than one in this many
# characters may change, or when the lines that may are more than 1 / _PICKED_SHARE of it.
_CHARS_A_SPOT = 64
_PICKED_SHARE = 2


def normalise(text: str) -> str:
    """Whitespace and markup normalised, outside protected spans: invisible characters
    dropped, odd spaces made plain, HTML comments removed, decorative rules (``=====``)
    shortened to three characters, trailing whitespace removed, runs of spaces inside a
    line made one (indentation is kept), blank lines collapsed to one, and blank lines at
    either end removed.  A text that would be left empty is returned as it was."""
    others = _beyond_ascii(text)
    invisibles = "".join(filter(others.__contains__, _INVISIBLES)) if others else ""
    odd_spaces = "".join(filter(others.__contains__, _ODD_SPACE_CHARS)) if others else ""
    deleting = bool(invisibles or odd_spaces) or "<!--" in text
    if not deleting and not _untidy(text):
        return text  # the common case for a prompt seen before: nothing to do
    if not text.strip() or _OPEN in others or _CLOSE in others:
        return text
    # Deleting clean-ups mask the code, quotes, URLs, numbers and IDs they could touch
    # (those of the lines they may change); otherwise code blocks only (the rest of a
    # line's code and quotes are found line by line).
    if invisibles:  # rare: every line's (removing one may open a comment anywhere)
        spans = merged(code_and_quotes(text) + _deletable_tokens(text, True))
    elif deleting:
        spans = _spans_that_matter(text, odd_spaces)
    else:
        spans = fences(text)
    masked, kept = _masked(text, spans)
    out = _cleaned(masked, deleting, invisibles, odd_spaces)
    if kept:
        out = _unmasked(out, kept)
    return out if out.strip() else text


def _beyond_ascii(text: str) -> str:
    """The characters of ``text`` that are not ASCII, in order (few in a prompt): its
    UTF-8 bytes but the ASCII ones, decoded (every byte of a longer character's encoding
    is over 127).  Searching them for a character is searching the text, for one scan
    of it (a search for each of two dozen characters took ~10 µs on a long text)."""
    if text.isascii():
        return ""
    utf8 = text.encode("utf-8", "surrogatepass")
    return beyond_ascii(utf8)


def _spans_that_matter(text: str, odd_spaces: str) -> list[Span]:
    """For a text without invisible characters, the spans of
    ``merged(code_and_quotes(text) + _deletable_tokens(text, False))`` a deleting clean-up
    can tell from the same text unmasked: those of fenced code, and those in the lines
    :func:`_lines_that_may_change` gives (found in those lines alone, joined:
    :func:`~.spans.line_spans`; in the whole text when they are most of it).

    The clean-up gives the same text with the other lines' spans unmasked: no comment it
    removes reaches those lines (a comment that would is one whose first closing is
    masked, and that mask is in it), tidying leaves them as they are, masked or not (they
    hold no run of two blanks past their indentation, no tab and no trailing blank, nor
    end the text, comments removed), and a line holding a span is not blank, nor a rule,
    either way.  Spans hold no line break but fenced code, which is whole lines, so
    merging never joins two lines' (tests/levers/fewer_tokens/test_compress_text_equivalence.py
    compares)."""
    lines = _lines_that_may_change(text, odd_spaces)
    found = fences(text) + _deletable_tokens(text, False)
    if lines is None or sum(end - start for start, end in lines) * _PICKED_SHARE > len(text):
        found += line_spans(text)  # most of the text: all of it, sooner
    elif lines:
        starts, ends = zip(*lines, strict=True)
        picked = "\n".join(map(text.__getitem__, map(slice, starts, ends)))
        picked_starts = list(accumulate((end - start + 1 for start, end in lines), initial=0))
        for start, end in line_spans(picked):
            line = bisect_right(picked_starts, start) - 1
            shift = starts[line] - picked_starts[line]
            found.append((start + shift, end + shift))
    return merged(found)


def _lines_that_may_change(text: str, odd_spaces: str) -> list[Span] | None:
    """The lines (``(start, end)``: from a line's first character to the line break or the
    text's end after it; consecutive lines in one) a deleting clean-up may change, or whose
    spans may decide what it removes: those a comment candidate (each ``<!--`` to the
    first ``-->`` after it) reaches, those holding one of ``odd_spaces``, those with a
    tab, those :func:`_tidied_lines` looks at, and the last line but blanks when blanks
    of any kind end the text (a block quote masked keeps them, as they were).  ``None``
    when they are so many (one in fewer than ``_CHARS_A_SPOT`` characters) that every line
    may as well be looked at, or when a comment's closing ends the text but blanks (once
    it is removed, the last line left may be any before it)."""
    content_end = len(text.rstrip()) if text[-1:].isspace() else len(text)
    if text.endswith("-->", 0, content_end):
        return None  # a comment removed from the end leaves an earlier line last
    most = len(text) // _CHARS_A_SPOT
    touched = _tidy_spots(text, most)
    if touched is None:
        return None
    if content_end < len(text):  # trimmed from the end unless a span ends with it
        touched.append((content_end - 1, content_end))
    for char in "\t" + odd_spaces:
        at = text.find(char)
        while at >= 0:
            touched.append((at, at + 1))
            at = text.find(char, at + 1)
    at = text.find("<!--")
    close = -1
    while at >= 0:
        if close < at + 4:  # (an opening before, with the same closing, reaches it all)
            close = text.find("-->", at + 4)
            if close < 0:
                break  # no opening from here on is closed
            touched.append((at, close + 3))
        at = text.find("<!--", at + 1)
    if len(touched) > most:
        return None
    lines: list[Span] = []
    for start, end in sorted(touched):
        if lines and start <= lines[-1][1]:
            if end > lines[-1][1]:
                line_end = text.find("\n", end - 1)
                lines[-1] = (lines[-1][0], len(text) if line_end < 0 else line_end)
            continue
        line_end = text.find("\n", max(start, end - 1))
        lines.append((text.rfind("\n", 0, start) + 1, len(text) if line_end < 0 else line_end))
    return lines


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
    ``_`` after at most three spaces, blanks after it) shortened to three characters: the
    first line matched, then one search for the others from the line breaks before them
    (a ``str.find`` for each kind of rule, tables and bold text full of them, took
    longer).  A match ends before a line break, so the next line is looked at too."""
    pieces: list[str] = []
    done = 0
    first = _SEPARATOR_LINE.match(text)
    if first is not None:
        pieces.append(first.group(1) * 3)
        done = first.end()
    for rule in _SEPARATOR_AFTER_BREAK.finditer(text, done):
        pieces += (text[done : rule.start(1)], rule.group(2) * 3)
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


def _tidy_spots(text: str, most: int | None = None) -> list[Span] | None:
    """The lines :func:`_tidied_lines` looks at (``(start, end)``, from a line's start to
    the line break or the text's end after it; a line may be there twice), out of order;
    ``None`` as soon as there are more than ``most``."""
    size = len(text)
    most = size + 1 if most is None else most
    spots: list[Span] = []
    found = _BODY_BLANKS.search(text)
    while found is not None:
        at = found.start()
        end = text.find("\n", at)
        end = size if end < 0 else end
        spots.append((text.rfind("\n", 0, at) + 1, end))
        found = _BODY_BLANKS.search(text, end) if len(spots) <= most else None
    at = text.find(" \n") if len(spots) <= most else -1
    while at >= 0:
        spots.append((text.rfind("\n", 0, at) + 1, at + 1))
        at = text.find(" \n", at + 2) if len(spots) <= most else -1
    if text[-1:] == " ":
        spots.append((text.rfind("\n") + 1, size))
    return spots if len(spots) <= most else None


def _tidied_lines(text: str) -> str:
    """``text`` with each line :func:`_tidied`, for a text without tabs.  Only the lines
    that can change are looked at (most lines of a prompt cannot): those with two blanks
    after a character that is not a blank (past their indentation), found by an expression
    that starts with the two blanks (the search is quick between them), and those ending
    with a blank."""
    spots = _tidy_spots(text)
    if not spots:  # (never None without a most)
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


def _cleaned(text: str, deleting: bool, invisibles: str, odd_spaces: str) -> str:
    """``text`` (its protected spans masked) cleaned; ``invisibles`` and ``odd_spaces``:
    those it may hold (each removed, or made a space, with ``str.replace``: a search for
    any of them is slow)."""
    if deleting:
        for char in invisibles:
            text = text.replace(char, "")
        for char in odd_spaces:
            text = text.replace(char, " ")
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
