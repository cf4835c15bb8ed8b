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
from thrifty.levers.fewer_tokens.compress.spans import protected_spans

MIN_PARAGRAPH = 40
MIN_WORDS = 5
_BREAK = re.compile(r"\n[ \t]*\n")
_LABEL = re.compile(
    r"(?i)^\s*(?:[-*]\s+)?(?:input|output|q|a|question|answer|user|assistant|human|ai|"
    r"example(?:\s+\d+)?|text|review|response|query|result|label|sentiment|category)\s*:"
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s*$")


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _is_instruction(line: str) -> bool:
    stripped = line.strip()
    return (
        len(stripped.split()) >= MIN_WORDS
        and _SENTENCE_END.search(stripped) is not None
        and not stripped.startswith("|")
        and _LABEL.match(stripped) is None
    )


class Deduper:
    """Remembers what the prompt said so far; :meth:`text` returns a text without what
    repeats it, and notes each removal."""

    def __init__(self) -> None:
        self._paragraphs: dict[str, str] = {}  # key -> where it was first seen
        self._lines: dict[str, str] = {}
        self.removals: list[Removal] = []

    def text(self, text: str, where: str) -> str:
        multiline = [(s, e) for s, e in protected_spans(text) if "\n" in text[s:e]]
        pieces = _paragraphs(text, multiline)
        kept: list[str] = []
        found: list[Removal] = []
        for start, end in pieces:
            paragraph = text[start:end]
            holds_code = any(s < end and e > start for s, e in multiline)
            key = _key(paragraph)
            if not holds_code and len(key) >= MIN_PARAGRAPH:
                first = self._paragraphs.get(key)
                if first is not None:
                    found.append(_removal("duplicate_paragraph", paragraph, where, first))
                    continue
                self._paragraphs[key] = where
            code = [(s - start, e - start) for s, e in multiline if s < end and e > start]
            paragraph = self._without_repeated_lines(paragraph, where, found, code)
            if paragraph.strip():
                kept.append(paragraph)
        if not found:
            return text
        if not kept:  # everything repeats: keep the text whole rather than empty it
            return text
        self.removals.extend(found)
        return "\n\n".join(kept)

    def _without_repeated_lines(
        self, paragraph: str, where: str, found: list[Removal], code: list[tuple[int, int]]
    ) -> str:
        """``paragraph`` without its repeated instruction lines (lines of code aside)."""
        lines = paragraph.split("\n")
        kept: list[str] = []
        offset = 0
        for line in lines:
            start, offset = offset, offset + len(line) + 1
            in_code = any(s < start + len(line) + 1 and e > start for s, e in code)
            if not in_code and _is_instruction(line):
                key = _key(line)
                first = self._lines.get(key)
                if first is not None:
                    found.append(_removal("repeated_instruction", line.strip(), where, first))
                    continue
                self._lines[key] = where
            kept.append(line)
        return paragraph if len(kept) == len(lines) else "\n".join(kept)


def _paragraphs(text: str, multiline: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph: cut at blank lines outside multi-line spans."""
    out: list[tuple[int, int]] = []
    at = 0
    for match in _BREAK.finditer(text):
        start, end = match.span()
        if any(s < end and e > start for s, e in multiline):
            continue
        out.append((at, start))
        at = end
    out.append((at, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _removal(transform: str, removed: str, where: str, first: str) -> Removal:
    what = "paragraph" if transform == "duplicate_paragraph" else "instruction"
    return Removal(transform, removed, where, f"repeats the {what} first given in {first}")
