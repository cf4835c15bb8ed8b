"""Few-shot examples trimmed to the ``k`` most relevant to the question.

An example is an ``<example>...</example>`` block (Anthropic's recommended markup) or a
Markdown section whose heading starts with "Example" (up to the next heading of the same
or a higher level).  With more than ``k`` examples in the prompt, the ``k`` sharing the
most words with the last user message are kept (ties: the earlier), in their order, and
the others are removed.  Relevance is lexical: distinct words of three letters or more,
common English words aside, scored ``shared / sqrt(example words)`` so that long examples
do not win by length alone.  Examples inside fenced code are not examples.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences
from thrifty.levers.fewer_tokens.compress.text import without

# Tagged examples are found as ``<example(?:\s[^>]*)?>.*?</example>[ \t]*\n?`` (re.S,
# re.I) finds them, but in one pass (:func:`tagged`).
_OPENING = re.compile("<example", re.I)
_CLOSING = re.compile("</example>", re.I)
_AFTER_CLOSING = re.compile(r"[ \t]*\n?")
_HEADING = re.compile(r"(?mi)^(#{1,6})[ \t]+example\b[^\n]*$")
_ANY_HEADING = re.compile(r"(?m)^(#{1,6})[ \t]")
_WORD = re.compile(r"[a-z0-9]{3,}")
_COMMON_WORDS = (
    "the and for are but not you all any can had her was one our out day get has him his "
    "how man new now old see two way who boy did its let put say she too use that with "
    "have this will your from they know want been good much some time very when come here "
    "just like long make many more only over such take than them well were what which "
    "there their would about could other these those into then also should each"
)
_COMMON = frozenset(_COMMON_WORDS.split())


@dataclass(frozen=True, slots=True)
class Example:
    slot: int
    start: int
    end: int
    text: str


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _COMMON)


def find_examples(texts: Sequence[str]) -> list[Example]:
    """Every example of every text, in prompt order."""
    found: list[Example] = []
    for slot, text in enumerate(texts):
        if "xample" not in text:  # cheap test before the expressions
            continue
        code = fences(text)
        code_starts = [start for start, _ in code]
        reached = 0
        for start, end in sorted(tagged(text) + _sections(text)):
            block = bisect_right(code_starts, start) - 1  # the last code block before
            if start >= reached and (block < 0 or start >= code[block][1]):
                found.append(Example(slot, start, end, text[start:end]))
                reached = end
    return found


def tagged(text: str) -> list[tuple[int, int]]:
    r"""The ``<example>`` blocks of ``text``, as ``re.finditer(r"<example(?:\s[^>]*)?>.*?
    </example>[ \t]*\n?", text, re.S | re.I)`` finds them (its spans), in one pass: the
    next ``>`` and the next closing tag are remembered, not searched for again from each
    opening (the pattern costs time in the square of the text's length on many openings
    without a closing)."""
    found: list[tuple[int, int]] = []
    size = len(text)
    bracket = -1  # the next ">" (size: none)
    closing: re.Match[str] | None = None
    opening = _OPENING.search(text)
    while opening is not None:
        after = opening.end()
        tag_end = -1
        if after < size and text[after] == ">":
            tag_end = after + 1
        elif after < size and text[after].isspace():
            if bracket < after:
                bracket = text.find(">", after)
                bracket = size if bracket < 0 else bracket
            tag_end = bracket + 1 if bracket < size else -1
        if tag_end >= 0:
            if closing is None or closing.start() < tag_end:
                closing = _CLOSING.search(text, tag_end)
                if closing is None:  # none after this opening, nor after a later one
                    break
            end = _AFTER_CLOSING.match(text, closing.end())
            found.append((opening.start(), end.end() if end is not None else closing.end()))
            opening = _OPENING.search(text, found[-1][1])
        else:
            opening = _OPENING.search(text, opening.start() + 1)
    return found


def _sections(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for match in _HEADING.finditer(text):
        level = len(match.group(1))
        end = len(text)
        for later in _ANY_HEADING.finditer(text, match.end()):
            if len(later.group(1)) <= level:
                end = later.start()
                break
        out.append((match.start(), end))
    return out


def trim_examples(
    texts: list[str], wheres: Sequence[str], query: str, keep: int
) -> tuple[list[str], list[Removal]]:
    """``texts`` with all but the ``keep`` examples most relevant to ``query`` removed."""
    examples = find_examples(texts)
    asked = words(query)
    if len(examples) <= keep or not asked:
        return texts, []

    def score(example: Example) -> float:
        own = words(example.text)
        return len(own & asked) / math.sqrt(len(own)) if own else 0.0

    ranked = sorted(range(len(examples)), key=lambda i: (-score(examples[i]), i))
    dropped = sorted(ranked[keep:], key=lambda i: (examples[i].slot, -examples[i].start))
    removals: list[Removal] = []
    cuts: dict[int, list[tuple[int, int]]] = {}
    for index in dropped:
        example = examples[index]
        cuts.setdefault(example.slot, []).append((example.start, example.end))
        why = f"few-shot example {index + 1} of {len(examples)}: not among the {keep} closest"
        where = wheres[example.slot]
        removals.append(Removal("example", example.text.strip(), where, why, len(example.text)))
    out = list(texts)
    for slot, spans in cuts.items():  # each text rebuilt once, not once per example
        out[slot] = without(out[slot], sorted(spans))
    return out, removals
