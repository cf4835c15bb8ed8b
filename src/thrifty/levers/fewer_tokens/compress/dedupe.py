"""Repeated instructions and duplicate paragraphs, removed across the whole prompt.

The first occurrence is kept (so the earlier part of a prompt never depends on what
follows it, and the provider's prompt cache keeps working); later ones are removed:

* a **paragraph** (text between blank lines) of at least :data:`MIN_PARAGRAPH` characters
  that repeats an earlier one, whitespace and case aside;
* an **instruction line**: a sentence of at least :data:`MIN_WORDS` words ending in ``.``,
  ``!`` or ``?`` that repeats an earlier line.  Lines that start with a field label
  (``Input:``, ``Answer:``, ``User:``...) are example data, not instructions, and are kept,
  as are table rows.

Paragraphs holding a fenced code block are never removed (nor are lines of code), and a
text is never emptied: if everything in it repeats, it is kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences

Seen = tuple[dict[str, str], dict[str, str]]  # paragraphs and lines: where first seen
MIN_PARAGRAPH = 40
MIN_WORDS = 5
_LABEL = re.compile(
    r"(?i)^\s*(?:[-*]\s+)?(?:input|output|q|a|question|answer|user|assistant|human|ai|"
    r"example(?:\s+\d+)?|text|review|response|query|result|label|sentiment|category)\s*:"
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
_ENDINGS = frozenset(".!?\"')]")
_ENDS = tuple(_ENDINGS)


def _key(text: str) -> str:
    """What makes two texts the same: case and blanks at either end aside (the texts
    are normalised first, so runs of blanks are already one)."""
    return text.strip().casefold()


def _is_instruction(line: str) -> bool:
    stripped = line.strip()
    return (
        stripped[-1:] in _ENDINGS
        and _SENTENCE_END.search(stripped) is not None
        and stripped[0] != "|"
        and len(stripped.split()) >= MIN_WORDS
        and _LABEL.match(stripped) is None
    )


class Deduper:
    """Remembers what the prompt said so far; :meth:`text` returns a text without what
    repeats it, and notes each removal."""

    def __init__(self, seen: Seen | None = None) -> None:
        self._given = seen
        paragraphs, lines = seen if seen is not None else ({}, {})
        self._paragraphs: dict[str, str] = dict(paragraphs)  # key -> where first seen
        self._lines: dict[str, str] = dict(lines)
        self.removals: list[Removal] = []

    def seen(self) -> Seen:
        """What it remembers (for ``Deduper(seen)`` to go on from): the very ``seen`` it
        was given if it learnt nothing since, else a copy."""
        given = self._given
        if given is not None and (len(given[0]), len(given[1])) == (
            len(self._paragraphs),
            len(self._lines),
        ):
            return given
        return dict(self._paragraphs), dict(self._lines)

    def text(self, text: str, where: str) -> str:
        lines = text.split("\n")
        code = _code_lines(text, fences(text))
        # Lines that could be instructions (a sentence's end, five words): a cheap first cut.
        candidates = {
            i
            for i, line in enumerate(lines)
            if line.rstrip().endswith(_ENDS) and line.count(" ") >= MIN_WORDS - 1
        }
        removed: set[int] = set()
        found: list[Removal] = []
        for first, last in _paragraphs(lines, code):
            block = range(first, last + 1)
            holds_code = bool(code) and any(i in code for i in block)
            if not holds_code:
                joined = "\n".join(lines[first : last + 1])
                key = _key(joined)
                if len(key) >= MIN_PARAGRAPH:
                    seen = self._paragraphs.get(key)
                    if seen is not None:
                        found.append(_removal("duplicate_paragraph", joined, where, seen))
                        removed.update(block)
                        _drop_separator(lines, removed, first, last)
                        continue
                    self._paragraphs[key] = where
            cut = 0
            for index in block:
                if index not in candidates or index in code:
                    continue
                if self._repeats(lines[index], where, found):
                    removed.add(index)
                    cut += 1
            if cut == len(block):
                _drop_separator(lines, removed, first, last)
        if (
            not found
            or len(removed) == len(lines)
            or all(not line.strip() for i, line in enumerate(lines) if i not in removed)
        ):
            return text  # nothing repeats, or everything does: keep the text whole
        self.removals.extend(found)
        return "\n".join(line for i, line in enumerate(lines) if i not in removed)

    def _repeats(self, line: str, where: str, found: list[Removal]) -> bool:
        """Whether ``line`` is an instruction said before (noted), else remember it."""
        if not _is_instruction(line):
            return False
        key = _key(line)
        seen = self._lines.get(key)
        if seen is not None:
            found.append(_removal("repeated_instruction", line.strip(), where, seen))
            return True
        self._lines[key] = where
        return False


def _code_lines(text: str, spans: Sequence[tuple[int, int]]) -> set[int]:
    """The numbers of the lines that code blocks cover."""
    covered: set[int] = set()
    for start, end in spans:
        first = text.count("\n", 0, start)
        covered.update(range(first, first + text.count("\n", start, end) + 1))
    return covered


def _paragraphs(lines: Sequence[str], code: set[int]) -> list[tuple[int, int]]:
    """``(first, last)`` line of each paragraph: lines between blank lines (a blank line
    inside a code block does not end one)."""
    out: list[tuple[int, int]] = []
    first = -1
    for index, line in enumerate(lines):
        if (not line or line.isspace()) and index not in code:
            if first >= 0:
                out.append((first, index - 1))
                first = -1
        elif first < 0:
            first = index
    if first >= 0:
        out.append((first, len(lines) - 1))
    return out


def _drop_separator(lines: Sequence[str], removed: set[int], first: int, last: int) -> None:
    """A paragraph gone: drop the blank line before it (or after it, for the first)."""
    before, after = first - 1, last + 1
    if before >= 0 and not lines[before].strip() and before not in removed:
        removed.add(before)
    elif after < len(lines) and not lines[after].strip():
        removed.add(after)


def _removal(transform: str, removed: str, where: str, first: str) -> Removal:
    what = "paragraph" if transform == "duplicate_paragraph" else "instruction"
    why = f"repeats the {what} first given in {first}"
    return Removal(transform, removed, where, why, len(removed) + 1)
