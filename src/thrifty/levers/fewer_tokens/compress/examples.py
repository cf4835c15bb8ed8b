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
from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import fences

_TAGGED = re.compile(r"<example(?:\s[^>]*)?>.*?</example>[ \t]*\n?", re.S | re.I)
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
        spans = [m.span() for m in _TAGGED.finditer(text)] + _sections(text)
        reached = 0
        for start, end in sorted(spans):
            if start >= reached and not any(s <= start < e for s, e in code):
                found.append(Example(slot, start, end, text[start:end]))
                reached = end
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
    out = list(texts)
    for index in dropped:  # from the end of each text, so earlier offsets stay right
        example = examples[index]
        text = out[example.slot]
        out[example.slot] = text[: example.start] + text[example.end :]
        why = f"few-shot example {index + 1} of {len(examples)}: not among the {keep} closest"
        where = wheres[example.slot]
        removals.append(Removal("example", example.text.strip(), where, why, len(example.text)))
    return out, removals
