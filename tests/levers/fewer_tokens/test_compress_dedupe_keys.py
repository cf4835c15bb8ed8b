"""Deduplication's coarse keys and full pass give what they gave before they were made
cheaper: the text folded at once (its UTF-8 lowered when nothing beyond ASCII folds), sets
in place of counts unless something repeats, lines picked by their last character, and the
full pass walking only blank lines and candidate lines."""

from __future__ import annotations

import re
import sys
from collections import Counter
from itertools import chain, compress, count, repeat
from operator import methodcaller

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import dedupe, dedupe_keys
from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)

_CHUNK_BREAK = re.compile(r"\n\s*\n")
_lines_of = methodcaller("split", "\n")


def keys_before(text: str) -> tuple[set[str], set[str], int] | None:
    """``_Keys.of`` as it was: every chunk folded alone, counted, then every line."""
    folded = list(map(str.casefold, _CHUNK_BREAK.split(text)))
    chunks = Counter(map(str.strip, folded))
    if dedupe_keys._any_paragraph(k for k, n in chunks.items() if n > 1):
        return None
    stripped = list(map(str.strip, chain.from_iterable(map(_lines_of, folded))))
    lines = Counter(compress(stripped, map(str.endswith, stripped, repeat(dedupe_keys._ENDS))))
    if dedupe_keys._any_instruction(k for k, n in lines.items() if n > 1):
        return None
    size = sum(map(len, chunks)) + sum(map(len, lines))
    return set(chunks), set(lines), size


def paragraphs_before(lines: list[str], code: set[int]) -> list[tuple[int, int]]:
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


class DeduperBefore(dedupe.Deduper):
    """The full pass as it was: every line of every paragraph walked, each candidate line
    stripped twice."""

    def _full(self, text: str, where: str) -> str:
        paragraphs = self._paragraphs
        assert paragraphs is not None
        lines = text.split("\n")
        code = dedupe._code_lines(text, fences(text))
        ends = map(str.endswith, map(str.rstrip, lines), repeat(dedupe_keys._ENDS))
        candidates = {i for i in compress(count(), ends) if lines[i].count(" ") >= 4}
        removed: set[int] = set()
        found: list[Removal] = []
        for first, last in paragraphs_before(lines, code):
            block = range(first, last + 1)
            holds_code = bool(code) and not code.isdisjoint(block)
            if not holds_code:
                joined = "\n".join(lines[first : last + 1])
                key = dedupe_keys._key(joined)
                if len(key) >= dedupe_keys.MIN_PARAGRAPH:
                    seen = paragraphs.get(key)
                    if seen is not None:
                        found.append(dedupe._removal("duplicate_paragraph", joined, where, seen))
                        removed.update(block)
                        dedupe._drop_separator(lines, removed, first, last)
                        continue
                    paragraphs[key] = where
            cut = 0
            for index in block:
                if index not in candidates or index in code:
                    continue
                if self._repeats(lines[index], where, found):
                    removed.add(index)
                    cut += 1
            if cut == len(block):
                dedupe._drop_separator(lines, removed, first, last)
        if (
            not found
            or len(removed) == len(lines)
            or all(not line.strip() for i, line in enumerate(lines) if i not in removed)
        ):
            return text
        self.removals.extend(found)
        return "\n".join(line for i, line in enumerate(lines) if i not in removed)

    def _repeats(self, line: str, where: str, found: list[Removal]) -> bool:
        if not dedupe_keys._is_instruction(line):
            return False
        key = dedupe_keys._key(line)
        seen = self._lines.get(key)
        if seen is not None:
            found.append(dedupe._removal("repeated_instruction", line.strip(), where, seen))
            return True
        self._lines[key] = where
        return False


LINES = st.sampled_from(
    [
        "Always answer in English and be brief.",
        "ALWAYS answer in ENGLISH and be BRIEF.",
        "  always answer in english and be brief.\u3000",
        "Always answer in English and be brief.\u00a0",
        "A paragraph line that is long enough to count as a paragraph",
        "A PARAGRAPH LINE THAT IS LONG ENOUGH TO COUNT AS A PARAGRAPH",
        "Stra\u00dfe und Stra\u00dfe und mehr und mehr.",
        "STRASSE UND STRASSE UND MEHR UND MEHR.",
        "\u212a is the kelvin sign, not a k at all.",
        "k is the kelvin sign, not a k at all.",
        "\u03a3\u039f\u03a6\u0399\u0391 and \u03c3\u03bf\u03c6\u03b9\u03b1 are one word twice.",
        "Check the box \u2705 then move on \u2192 to the next one!",
        "CHECK THE BOX \u2705 THEN MOVE ON \u2192 TO THE NEXT ONE!",
        "Say \u201cplease\u201d and \u201cthank you\u201d to everyone you meet.",
        "Quote the rule (the whole of it, every word) [here]",
        "| a | b | c | d | e |.",
        "Input: what is the capital of France today?",
        "```",
        "~~~~",
        "print('x')  # a line of code, five words.",
        "Be brief and stay kind.",
        "short.",
        "\ud800 a lone surrogate, then four words.",
        "---",
        "",
        "",
        " ",
        "\t",
        "\x1c",
        "\x85",
        "\u2028",
        "\u3000",
        "\u00a0x",
    ]
)
TEXTS = st.lists(LINES, max_size=14).map("\n".join)


@RELAXED
@given(TEXTS)
def test_the_coarse_keys_are_the_ones_they_replace(text: str) -> None:
    keys, expected = dedupe_keys._Keys.of(text), keys_before(text)
    assert (keys is None) == (expected is None)
    if keys is not None and expected is not None:
        assert (set(keys.paragraphs), set(keys.lines), keys.chars) == expected


@RELAXED
@given(st.lists(TEXTS, min_size=1, max_size=4))
def test_the_full_pass_is_the_one_it_replaced(texts: list[str]) -> None:
    results = []
    for kind in (dedupe.Deduper, DeduperBefore):
        outs: list[str] = []
        removals: list[Removal] = []
        seen = dedupe.NOTHING_SEEN
        for index, text in enumerate(texts):
            deduper = kind(seen)
            deduper._learn()
            outs.append(deduper._full(text, f"message {index + 1}"))
            removals += deduper.removals
            seen = deduper.seen()
        results.append((outs, removals, dict(seen.paragraphs), dict(seen.lines)))
    assert results[0] == results[1]


@RELAXED
@given(st.lists(st.sampled_from(["a", "", " ", "\t", "\u3000", "x y"]), max_size=12))
def test_paragraphs_are_the_ones_found_before(lines: list[str]) -> None:
    code = {i for i, line in enumerate(lines) if line == "x y"} | {0, 5}
    for covered in (set(), code):
        assert dedupe._paragraphs(lines, covered) == paragraphs_before(lines, covered)


def test_a_text_folds_at_once_exactly_as_it_folds() -> None:
    """Every character that folds to itself, together (surrogates included): the text
    folds as its UTF-8 lowers; any other character beyond ASCII sends it piece by piece."""
    selves, others = [], []
    for code in range(128, sys.maxunicode + 1):
        char = chr(code)
        (selves if char.casefold() == char else others).append(char)
    text = "ASCII Letters Fold As They Lower. " + "".join(selves)
    assert dedupe_keys._folded(text) == text.casefold()
    assert dedupe_keys._folded("Plain ASCII.") == "plain ascii."
    for char in others:
        assert dedupe_keys._folded("Text " + char) is None, hex(ord(char))


def test_the_blanks_are_every_character_strip_removes() -> None:
    blanks = {chr(code) for code in range(sys.maxunicode + 1) if not chr(code).strip()}
    assert blanks == dedupe_keys.BLANKS


def is_instruction_before(line: str) -> bool:
    stripped = line.strip()
    return (
        stripped[-1:] in dedupe_keys._ENDINGS
        and stripped.rstrip(dedupe_keys._CLOSERS)[-1:] in dedupe_keys._STOPS
        and stripped[0] != "|"
        and len(stripped.split()) >= dedupe_keys.MIN_WORDS
        and dedupe_keys._LABEL.match(stripped) is None
    )


WORDS = st.sampled_from(
    ["be", "Input:", "INPUT :", "- answer:", "a:", "x", "|", ".", "!", '"', ")", " ", "\t"]
)


@RELAXED
@given(st.lists(st.one_of(WORDS, st.sampled_from(["\u3000", "\u00a0", "\n", ":"])), max_size=14))
def test_an_instruction_is_told_as_before(bits: list[str]) -> None:
    line = "".join(bits)
    assert dedupe_keys._is_instruction(line) == is_instruction_before(line)
