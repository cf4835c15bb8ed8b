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

Most texts repeat nothing, so each is first checked coarsely, at C speed (``_Keys.of``):
every line and every blank-line-separated chunk, compared with each other and with those of
the texts before.  A text with no repeated key can lose nothing; it is only remembered,
and learnt (paragraph by paragraph, line by line) if a later text needs the full pass.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller

from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences

MIN_PARAGRAPH = 40
MIN_WORDS = 5
_LABEL = re.compile(
    r"(?i)^\s*(?:[-*]\s+)?(?:input|output|q|a|question|answer|user|assistant|human|ai|"
    r"example(?:\s+\d+)?|text|review|response|query|result|label|sentiment|category)\s*:"
)
_STOPS = frozenset(".!?")
_CLOSERS = "\"')]"
_ENDINGS = frozenset(".!?\"')]")
_ENDS = tuple(_ENDINGS)
_CHUNK_BREAK = re.compile(r"\n\s*\n")
_lines_of = methodcaller("split", "\n")
# Every character ``str.strip`` removes (tests/levers/fewer_tokens checks it on every one).
BLANKS = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_MAY_END = _ENDINGS | BLANKS  # a line's last character, if it may end like a sentence
_ASCII = bytes(range(128))

MIN_INSTRUCTION = 2 * MIN_WORDS - 1  # characters: five one-letter words and four blanks


def _key(text: str) -> str:
    """What makes two texts the same: case and blanks at either end aside (the texts
    are normalised first, so runs of blanks are already one)."""
    return text.strip().casefold()


def _is_instruction(line: str) -> bool:
    stripped = line.strip()
    return _reads_as_a_sentence(stripped) and not _labelled(stripped)


def _labelled(stripped: str) -> bool:
    """Whether a line starts with a field label (which ends in a colon: a line without one
    is not matched against the expression)."""
    return ":" in stripped and _LABEL.match(stripped) is not None


def _reads_as_a_sentence(stripped: str) -> bool:
    """Whether a stripped line ends like a sentence (``.``, ``!`` or ``?``, then closing
    quotes and brackets), is no table row, and has :data:`MIN_WORDS` words."""
    return (
        stripped[-1:] in _ENDINGS
        and stripped.rstrip(_CLOSERS)[-1:] in _STOPS
        and stripped[0] != "|"
        and len(stripped.split(None, MIN_WORDS - 1)) == MIN_WORDS  # splits stop at the fifth
    )


@dataclass(frozen=True, slots=True)
class _Keys:
    """A coarse view of texts: every chunk between blank lines long enough to be a
    paragraph, and every line that could be an instruction, as deduplication keys.  A
    paragraph or instruction that repeats has its key among them twice."""

    paragraphs: Set[str]  # never modified (the keys of a count, or a union)
    lines: Set[str]
    # The characters of its keys, at most (a union counts a key both sides hold twice):
    # kept, not summed again over the union each time a memo is told a snapshot's size.
    chars: int = field(default=0, compare=False)

    @staticmethod
    def of(text: str) -> _Keys | None:
        """``text``'s keys, or ``None`` if one of them occurs in it twice."""
        # Case folding keeps blanks blank and never makes one (tests/levers/fewer_tokens
        # checks it on every character), so the chunks of the folded text are the folded
        # chunks, and stripping commutes with folding.  The lines are the chunks' lines
        # (the other lines, inside the breaks, are blank), and of those only the ones that
        # end like a sentence could be instructions.  A set tells in C whether anything
        # repeats; only then are the keys counted, to see if a repeat matters.
        folded = _folded(text)
        if folded is None:  # folding changes more than ASCII letters: chunk by chunk
            chunks = list(map(str.casefold, _CHUNK_BREAK.split(text)))
            paragraphs = list(map(str.strip, chunks))
            sentences = _sentence_lines(chain.from_iterable(map(_lines_of, chunks)))
        else:
            paragraphs, sentences = _chunks_and_sentences(folded.split("\n"))
        unique = set(paragraphs)
        if len(unique) < len(paragraphs) and _any_paragraph(_repeated(paragraphs)):
            return None
        unique_lines = set(sentences)
        if len(unique_lines) < len(sentences) and _any_instruction(_repeated(sentences)):
            return None
        size = sum(map(len, unique)) + sum(map(len, unique_lines))
        return _Keys(unique, unique_lines, size)  # no copy: ``&`` and ``|`` make sets

    def meets_learnt(self, paragraphs: Mapping[str, str], lines: Mapping[str, str]) -> bool:
        """Whether a paragraph or an instruction could be one of those learnt."""
        return _any_paragraph(self.paragraphs & paragraphs.keys()) or _any_instruction(
            self.lines & lines.keys()
        )

    def meets(self, other: _Keys) -> bool:
        """Whether a paragraph or an instruction could be in both."""
        return _any_paragraph(self.paragraphs & other.paragraphs) or _any_instruction(
            self.lines & other.lines
        )

    def __or__(self, other: _Keys) -> _Keys:
        if not (self.paragraphs or self.lines):  # a first text's keys: nothing to copy
            return other
        paragraphs, lines = self.paragraphs | other.paragraphs, self.lines | other.lines
        return _Keys(paragraphs, lines, self.chars + other.chars)


def _folded(text: str) -> str | None:
    """``text`` case folded, or ``None`` when folding it would change a character beyond
    ASCII (then it is folded piece by piece: most pieces are ASCII, which folds fast).
    Folding is character by character, and ASCII folds as it lowers, so a text whose
    other characters all fold to themselves folds as its UTF-8 bytes lower: those
    characters' bytes are all over 127, which ``bytes.lower`` leaves alone, and they are
    checked by folding them alone (a few, where folding the whole text costs ~7 ns a
    character)."""
    if text.isascii():
        return text.lower()
    utf8 = text.encode("utf-8", "surrogatepass")
    others = utf8.translate(None, _ASCII).decode("utf-8", "surrogatepass")
    if others.casefold() != others:
        return None
    return utf8.lower().decode("utf-8", "surrogatepass")


def _sentence_lines(lines: Iterable[str]) -> list[str]:
    """The stripped lines that end like a sentence (``.``, ``!``, ``?``, or a closing
    quote or bracket): picked by their last character (a line ending in a blank is
    stripped to be read)."""
    maybe = [line.strip() for line in lines if line and line[-1] in _MAY_END]
    return [line for line in maybe if line[-1:] in _ENDINGS]


def _chunks_and_sentences(lines: list[str]) -> tuple[list[str], list[str]]:
    """The stripped chunks between blank lines, and :func:`_sentence_lines`, in one walk
    over the lines: a line is read further only if it is empty or its last character is
    a sentence's end or a blank (then it is stripped: blank, it ends a chunk).  Cheaper
    than splitting the text at its breaks as well as at its lines (each split copies
    every character once more).  The chunks are :data:`_CHUNK_BREAK`'s, stripped: an
    empty one too where a break opens or closes the text (or nothing but blanks is in
    it), though no paragraph has an empty key."""
    chunks: list[str] = []
    sentences: list[str] = []
    first = 0
    for index, line in enumerate(lines):
        if line and line[-1] not in _MAY_END:
            continue
        stripped = line.strip()
        if stripped:
            if stripped[-1] in _ENDINGS:
                sentences.append(stripped)
            continue
        if index > first:
            chunks.append("\n".join(lines[first:index]).strip())
        first = index + 1
    if first < len(lines):
        chunks.append("\n".join(lines[first:]).strip())
    one = len(lines) == 1
    opens = not lines[0].strip() and (one or not lines[1].strip())
    if opens or (not lines[-1].strip() and (one or not lines[-2].strip())):
        chunks.append("")  # a break (two line breaks, blanks between) at an end
    return chunks, sentences


def _repeated(keys: Iterable[str]) -> Iterator[str]:
    return (key for key, n in Counter(keys).items() if n > 1)


def _any_paragraph(keys: Iterable[str]) -> bool:
    return any(len(key) >= MIN_PARAGRAPH for key in keys)


def _any_instruction(keys: Iterable[str]) -> bool:
    """Whether a line key could be an instruction's (labels are not told apart: case
    folding may change what the label expression matches)."""
    return any(len(key) >= MIN_INSTRUCTION and _reads_as_a_sentence(key) for key in keys)


_NO_KEYS = _Keys(frozenset(), frozenset())


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
