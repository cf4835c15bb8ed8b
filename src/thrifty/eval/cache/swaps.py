"""The swap set: each duplicate pair with a trap twin whose new query means something else.

For a duplicate pair (cached ``text_a``, new ``text_b``), the twin's new query is ``text_b``
with one detail swapped: on/off (and enable/disable, increase/decrease...), a negation
added or removed, a number changed, a year changed.  The twin is labelled "not the same":
serving ``text_a``'s answer to it is a false hit.  A cache is judged on the mixed set
(every duplicate and its twins) by its precision, and by the share of twins it served.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from thrifty.eval.cache.pairs import Pair

__all__ = ["swap_set", "swaps_of"]

_OPPOSITE = {
    "on": "off",
    "off": "on",
    "enable": "disable",
    "disable": "enable",
    "increase": "decrease",
    "decrease": "increase",
    "buy": "sell",
    "sell": "buy",
    "best": "worst",
    "worst": "best",
    "before": "after",
    "after": "before",
    "start": "stop",
    "stop": "start",
    "advantages": "disadvantages",
    "disadvantages": "advantages",
    "more": "less",
    "less": "more",
}
_OPPOSITE_WORD = re.compile(r"\b(" + "|".join(_OPPOSITE) + r")\b", re.IGNORECASE)
_AUXILIARY = re.compile(
    r"\b(is|are|was|were|can|could|do|does|did|should|would|will|has|have)\b(?!\s+not\b)",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(is|are|was|were|can|could|do|does|did|should|would|will|has|have)"
    r"(\s+not\b|n't\b)",
    re.IGNORECASE,
)
_CONTRACTED = {
    "is": "isn't",
    "are": "aren't",
    "was": "wasn't",
    "were": "weren't",
    "can": "can't",
    "could": "couldn't",
    "do": "don't",
    "does": "doesn't",
    "did": "didn't",
    "should": "shouldn't",
    "would": "wouldn't",
    "will": "won't",
    "has": "hasn't",
    "have": "haven't",
}
_YEAR = re.compile(r"\b(19|20)(\d\d)\b")
_NUMBER = re.compile(r"\b\d+\b")


def _keep_case(original: str, replacement: str) -> str:
    return replacement.capitalize() if original[:1].isupper() else replacement


def swaps_of(text: str) -> list[tuple[str, str]]:
    """``(kind, swapped text)`` for each swap that applies to ``text``."""
    swaps: list[tuple[str, str]] = []
    # (a case-insensitive match can lower to another key: "İs".lower() is not "is")
    if (found := _OPPOSITE_WORD.search(text)) and found.group(1).lower() in _OPPOSITE:
        word = found.group(1)
        opposite = _keep_case(word, _OPPOSITE[word.lower()])
        swaps.append(("polarity", text[: found.start()] + opposite + text[found.end() :]))
    if found := _NEGATED.search(text):
        swaps.append(("negation", text[: found.end(1)] + text[found.end() :]))
    elif (found := _AUXILIARY.search(text)) and found.group(1).lower() in _CONTRACTED:
        word = found.group(1)
        negated = _keep_case(word, _CONTRACTED[word.lower()])
        swaps.append(("negation", text[: found.start()] + negated + text[found.end() :]))
    if found := _YEAR.search(text):
        year = int(found.group()) + 1
        swaps.append(("year", text[: found.start()] + str(year) + text[found.end() :]))
    elif found := _NUMBER.search(text):
        number = int(found.group())
        changed = number + 1 if number < 10 else number * 2
        swaps.append(("number", text[: found.start()] + str(changed) + text[found.end() :]))
    return swaps


def swap_set(pairs: Iterable[Pair]) -> list[tuple[Pair, str]]:
    """The duplicates of ``pairs`` and their twins, each with its kind ("duplicate", or the
    swap's kind)."""
    mixed: list[tuple[Pair, str]] = []
    for pair in pairs:
        if not pair.same:
            continue
        mixed.append((pair, "duplicate"))
        for kind, swapped in swaps_of(pair.text_b):
            twin = Pair(f"{pair.id}:{kind}", pair.text_a, swapped, same=False)
            mixed.append((twin, kind))
    return mixed
