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

Most texts repeat nothing, so each is first checked coarsely, at C speed (``_Keys.of``,
in :mod:`.dedupe_keys`):
every line and every blank-line-separated chunk, compared with each other and with those of
the texts before.  A text with no repeated key can lose nothing; it is only remembered,
and learnt (paragraph by paragraph, line by line) if a later text needs the full pass.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from thrifty.levers.fewer_tokens.compress.dedupe_keys import (
    _ENDINGS,
    _MAY_END,
    _NO_KEYS,
    MIN_PARAGRAPH,
    MIN_WORDS,
    _key,
    _Keys,
    _labelled,
    _reads_as_a_sentence,
)
from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences


@dataclass(frozen=True, slots=True)
class Seen:
    """What deduplication knows after some texts: the paragraphs and instruction lines it
    learnt (key -> where first seen), the texts it has not learnt yet (``(text, where)``,
    in order: they repeated nothing), and the coarse keys of those."""

    paragraphs: Mapping[str, str]
    lines: Mapping[str, str]
    unlearnt: tuple[tuple[str, str], ...]
    keys: _Keys
    # What learning the unlearnt texts gives, once asked for (a memo hands the same
    # ``Seen`` to many requests: they learn a system prompt once between them).
    _learnt: list[tuple[Mapping[str, str], Mapping[str, str]]] = field(
        default_factory=list, compare=False, repr=False
    )
    # A ``Seen`` this one extends (the same learnt texts, its unlearnt texts first) that was
    # learnt when this one was made, or that extends none: learning starts from what it
    # learnt, so a conversation's new turns are learnt, not all its turns again.  One
    # level only (never a chain): dropped once this one is learnt, so a ``Seen`` keeps at
    # most one other alive, and a learnt one none.
    _base: list[Seen] = field(default_factory=list, compare=False, repr=False)

    @property
    def chars(self) -> int:
        """Characters it holds besides the texts themselves (for a memo's bound; the keys
        twice, for what learning may add: its keys are among them)."""
        learnt = sum(sum(map(len, k)) for k in (self.paragraphs, self.lines))
        return 2 * self.keys.chars + learnt

    def learnt(self) -> tuple[Mapping[str, str], Mapping[str, str]]:
        """The paragraphs and instruction lines known once every text is learnt (computed
        on the first call, kept; never to be modified)."""
        if not self.unlearnt:
            return self.paragraphs, self.lines
        if not self._learnt:
            paragraphs, lines, done = self.paragraphs, self.lines, 0
            for base in tuple(self._base):
                paragraphs, lines = base.learnt()
                done = len(base.unlearnt)
            deduper = Deduper()
            deduper._paragraphs, deduper._lines = dict(paragraphs), dict(lines)
            for text, where in self.unlearnt[done:]:
                deduper._full(text, where)
            self._learnt.append((deduper._paragraphs, deduper._lines))
            self._base.clear()  # learnt: what it extends is no longer needed
        return self._learnt[0]


NOTHING_SEEN = Seen({}, {}, (), _NO_KEYS)


class Deduper:
    """Remembers what the prompt said so far; :meth:`text` returns a text without what
    repeats it, and notes each removal."""

    def __init__(self, seen: Seen = NOTHING_SEEN) -> None:
        self._given = seen
        self._paragraphs: dict[str, str] | None = None  # copied from ``seen`` when learning
        self._lines: dict[str, str] = {}
        self._unlearnt = seen.unlearnt
        self._keys = seen.keys
        self.removals: list[Removal] = []

    def seen(self) -> Seen:
        """What it remembers (for ``Deduper(seen)`` to go on from): the very ``seen`` it
        was given if it saw nothing since."""
        if self._paragraphs is None:
            given = self._given
            if self._keys is given.keys and self._unlearnt is given.unlearnt:
                return given
            base: list[Seen]
            if not given.unlearnt:  # learning starts from its paragraphs and lines
                base = []
            elif given._learnt or not given._base:  # from what ``given`` learns
                base = [given]
            else:  # from what the one ``given`` extends learns
                base = list(given._base)
            return Seen(given.paragraphs, given.lines, self._unlearnt, self._keys, _base=base)
        return Seen(self._paragraphs, self._lines, self._unlearnt, self._keys)

    def text(self, text: str, where: str) -> str:
        keys = _Keys.of(text)
        if (
            keys is not None
            and not keys.meets(self._keys)
            and not keys.meets_learnt(self.paragraphs, self.lines)
        ):  # nothing in it can repeat: remembered, not learnt
            self._keys |= keys
            self._unlearnt += ((text, where),)
            return text
        self._learn()
        return self._full(text, where)

    @property
    def paragraphs(self) -> Mapping[str, str]:
        """The paragraphs learnt so far (key -> where first seen)."""
        return self._paragraphs if self._paragraphs is not None else self._given.paragraphs

    @property
    def lines(self) -> Mapping[str, str]:
        """The instruction lines learnt so far (key -> where first seen)."""
        return self._lines if self._paragraphs is not None else self._given.lines

    def _learn(self) -> None:
        """Learn the texts not learnt yet (they remove nothing: each repeated nothing);
        those ``seen`` held are learnt by it, once for every request that shares it."""
        unlearnt, self._unlearnt, self._keys = self._unlearnt, (), _NO_KEYS
        if self._paragraphs is None:
            paragraphs, lines = self._given.learnt()
            self._paragraphs, self._lines = dict(paragraphs), dict(lines)
            unlearnt = unlearnt[len(self._given.unlearnt) :]
        for text, where in unlearnt:
            self._full(text, where)

    def _full(self, text: str, where: str) -> str:
        paragraphs = self._paragraphs
        assert paragraphs is not None  # learnt first
        lines = text.split("\n")
        code = _code_lines(text, fences(text))
        # Lines that could be instructions (a sentence's end, five words, no code): a cheap
        # first cut (a line is stripped only if its last character is a sentence's end or
        # a blank), in order, so each paragraph's are a slice of them and the others are
        # not walked.
        candidates = [
            index
            for index, line in enumerate(lines)
            if line
            and line[-1] in _MAY_END
            and line.rstrip()[-1:] in _ENDINGS
            and line.count(" ") >= MIN_WORDS - 1
            and index not in code
        ]
        removed: set[int] = set()
        found: list[Removal] = []
        at = 0
        for first, last in _paragraphs(lines, code):
            start, at = at, bisect_right(candidates, last, at)
            if not (code and not code.isdisjoint(range(first, last + 1))):
                joined = "\n".join(lines[first : last + 1])
                key = _key(joined)
                if len(key) >= MIN_PARAGRAPH:
                    seen = paragraphs.get(key)
                    if seen is not None:
                        found.append(_removal("duplicate_paragraph", joined, where, seen))
                        removed.update(range(first, last + 1))
                        _drop_separator(lines, removed, first, last)
                        continue
                    paragraphs[key] = where
            cut = 0
            for index in candidates[start:at]:
                if self._repeats(lines[index], where, found):
                    removed.add(index)
                    cut += 1
            if cut == last - first + 1:
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
        stripped = line.strip()
        if not _reads_as_a_sentence(stripped) or _labelled(stripped):
            return False  # no instruction (what ``_is_instruction`` reads, stripped once)
        key = stripped.casefold()
        seen = self._lines.get(key)
        if seen is not None:
            found.append(_removal("repeated_instruction", stripped, where, seen))
            return True
        self._lines[key] = where
        return False


def _code_lines(text: str, spans: Sequence[tuple[int, int]]) -> set[int]:
    """The numbers of the lines that code blocks cover (the lines before each block are
    counted from the block before, not from the text's start again)."""
    covered: set[int] = set()
    first = at = 0
    for start, end in sorted(spans):
        first += text.count("\n", at, start)
        at = start
        covered.update(range(first, first + text.count("\n", start, end) + 1))
    return covered


def _paragraphs(lines: Sequence[str], code: set[int]) -> list[tuple[int, int]]:
    """``(first, last)`` line of each paragraph: lines between blank lines (a blank line
    inside a code block does not end one).  Only the blank lines are walked."""
    blanks = [i for i, line in enumerate(lines) if not line or line.isspace()]
    out: list[tuple[int, int]] = []
    first = 0
    for blank in blanks:
        if blank in code:
            continue
        if blank > first:
            out.append((first, blank - 1))
        first = blank + 1
    if first < len(lines):
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
