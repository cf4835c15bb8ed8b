"""What deduplication compares: the rules that make a line an instruction and two texts
the same, and the coarse keys (:class:`_Keys`) that tell at C speed whether a text can
repeat anything (:mod:`.dedupe` removes what repeats)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller

from thrifty.utf8_text import beyond_ascii

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
    others = beyond_ascii(utf8)
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
