"""Volatile lines in a system prompt: a date or timestamp that changes every day (or every
request) breaks the cached prefix at the byte where it sits.

Conservative by design, a line is volatile only when all of these hold:

* it holds an ISO 8601 date (``2026-11-30``) or date-time (``2026-11-30T10:00:00Z``,
  ``2026-11-30 10:00``);
* it is short (at most :data:`MAX_LINE_CHARS` characters): a label and the date, not a
  paragraph that mentions one;
* it is outside fenced code blocks (```), which are never touched.

:func:`split_volatile` moves such lines, in their order, after every other line (the
stable part); it returns ``None`` when there is nothing to move (no volatile line, or
they already end the prompt, or the prompt would be nothing but volatile lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thrifty.bounded_memo import BoundedMemo

MAX_LINE_CHARS = 120
MAX_VOLATILE_LINES = 3
_ISO = re.compile(
    r"(?<![\w-])\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
)
# What every ISO date holds ("-MM-DD", roughly): a literal first character, so the regex
# engine skips to each dash at C speed (the full date pattern tries every position).
_DATE_TAIL = re.compile(r"-[01]\d-[0-3]\d")
_FENCE = "```"


@dataclass(frozen=True, slots=True)
class VolatileSplit:
    stable: str  # the prompt without its volatile lines
    volatile: str  # those lines, joined by newlines
    first_line: int  # index of the first volatile line in the original prompt


def _may_hold_a_date(text: str) -> bool:
    """False when ``text`` holds no ISO date: every one has a dash before its month's 0
    or 1."""
    return "-0" in text or "-1" in text


def _is_volatile(line: str) -> bool:
    return len(line) <= MAX_LINE_CHARS and _may_hold_a_date(line) and _ISO.search(line) is not None


def _any_volatile_line(text: str) -> bool:
    """Whether some line of ``text`` is volatile by :func:`_is_volatile` (fences aside): only
    the lines that hold a date's tail are read, not every line."""
    checked = -1  # the start of the last line read
    for found in _DATE_TAIL.finditer(text):
        start = text.rfind("\n", 0, found.start()) + 1
        if start == checked:
            continue
        checked = start
        end = text.find("\n", found.end())
        if _is_volatile(text[start:] if end < 0 else text[start:end]):
            return True
    return False


def split_volatile(text: str) -> VolatileSplit | None:
    """The prompt's stable and volatile parts, or ``None`` (nothing to move safely)."""
    # No line could move (the common case): fences need not be read.  A text without
    # "-0" or "-1" holds no date's tail, so the regex's one scan (its literal first
    # character found at C speed) answers that too: two substring scans for those took
    # more than twice as long over a long prompt.
    if not _any_volatile_line(text):
        return None
    lines = text.split("\n")
    volatile: list[int] = []
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(_FENCE):
            fenced = not fenced
            continue
        if not fenced and _is_volatile(line):
            volatile.append(index)
    if not volatile or len(volatile) > MAX_VOLATILE_LINES:
        return None
    moved = set(volatile)
    stable = [line for i, line in enumerate(lines) if i not in moved]
    while stable and not stable[-1].strip():
        stable.pop()
    if not any(line.strip() for line in stable):
        return None
    after_first = range(volatile[0], len(lines))
    if all(i in moved or not lines[i].strip() for i in after_first):
        return None  # already at the end
    return VolatileSplit(
        stable="\n".join(stable),
        volatile="\n".join(lines[i] for i in volatile),
        first_line=volatile[0],
    )


class VolatileSplits:
    """:func:`split_volatile`, remembered for recent prompts (a system prompt repeats on
    every request), ``max_chars`` characters of prompt text at most.  The memo is asked
    first, even for a prompt without a date's tail, which one scan of it would answer: a
    prompt seen before is most often the same string (compression's memo hands back its
    output), its hash already known, so the lookup costs nothing where the scan costs as
    much as hashing a new prompt (bench/fewer_tokens_overhead.py's mix: the OpenAI planner
    took 0.044-0.048 ms a request, 0.053 ms scanning first)."""

    def __init__(self, max_chars: int = 4_000_000) -> None:
        self._done: BoundedMemo[VolatileSplit | None] = BoundedMemo(max_chars)

    def __call__(self, text: str) -> VolatileSplit | None:
        if text in self._done:
            return self._done.get(text)
        found = split_volatile(text)
        self._done.put(text, found)
        return found
