"""Guards: cheap lexical checks that veto a semantic hit whose answer would differ.

Embeddings place "turn on dark mode" closer to "turn off dark mode" than to most real
paraphrases, so no similarity threshold alone separates them.  Before a hit is served, the
new query and the cached one are compared on the details that change an answer:

* numbers (digits, and number words up to twenty plus the round ones), years included,
  in the order they come;
* dates: month and weekday names, today / tomorrow / yesterday;
* negation: the two queries hold a different number of negations (not, no, never, n't,
  without...): "how do I lose weight without exercise" is not "how can't I lose weight
  without exercise";
* polarity: the two take opposite sides of an axis (on/off, enable/disable, start/stop,
  increase/decrease, before/after, buy/sell, ...), or one has a marked word the other
  lacks ("off", "disable", "worst", "disadvantages", "sell"...);
* names: a capitalised word of one (not a sentence's first word) missing from the other,
  or names in another order ("flights from Paris to Rome" / "from Rome to Paris");
* units: the currency, percent and measure words differ, or come in another order.

A veto turns a would-be hit into a miss; it never serves anything.  :func:`veto` returns
the first failing check's name, or ``None`` when the pair passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Features", "features", "veto"]


def _words(text: str) -> list[str]:
    return text.split()


_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*|\d+(?:[.,]\d+)*|[$€£¥%]")
# A word starts a sentence when only blanks, quotes or brackets (``_LEAD``) stand between it
# and the text's start or a sentence's end (``_ENDS``; a newline is both).
_LEAD = "\"'([*-"
_ENDS = ".?!:;\n"
_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "half": "0.5",
    "twice": "2",
    "double": "2",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}
_DATE_WORDS = frozenset(
    _words(
        "january february march april june july august september october november "
        "december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday "
        "wednesday thursday friday saturday sunday today tomorrow yesterday tonight "
        "weekend"
    )
)
_NEGATIONS = frozenset(
    _words(
        "not no never none nobody nothing nowhere neither nor without cannot cant dont "
        "doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt havent hasnt "
        "hadnt mustnt unable"
    )
)
# Axes of opposite meaning: (one side, the other side).
_AXES: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(a.split()), frozenset(b.split()))
    for a, b in (
        (
            "on enable enabled enabling activate turn_on",
            "off disable disabled disabling deactivate",
        ),
        ("start starting started begin", "stop stopping stopped end finish"),
        ("open opening", "close closing"),
        (
            "increase increasing raise higher more maximum max most",
            "decrease decreasing lower less fewer minimum min least reduce",
        ),
        ("add adding insert install", "remove removing delete deleting uninstall"),
        ("before", "after"),
        ("buy buying purchase", "sell selling"),
        ("upload uploading", "download downloading"),
        ("import importing", "export exporting"),
        ("encrypt encrypting encryption", "decrypt decrypting decryption"),
        ("allow allowing permit", "deny denying block blocking forbid"),
        ("show showing display", "hide hiding"),
        ("lock locking", "unlock unlocking"),
        ("best better", "worst worse"),
        ("true", "false"),
        ("yes", "no"),
        ("above", "below"),
        ("positive", "negative"),
        ("win winning", "lose losing"),
        ("hot", "cold"),
        ("fast faster", "slow slower"),
        ("cheap cheaper cheapest", "expensive"),
        ("male men man boy boys", "female women woman girl girls"),
        ("past", "future"),
        ("advantages pros benefits", "disadvantages cons drawbacks"),
    )
)
_UNITS = frozenset(
    _words(
        "$ € £ ¥ % usd eur euro euros dollar dollars pound pounds yen rupee rupees inr "
        "percent km kilometer kilometers kilometre kilometres mile miles m meter meters "
        "metre metres cm mm ft foot feet inch inches kg kilogram kilograms g gram grams "
        "lb lbs ounce ounces oz l liter liters litre litres ml gallon gallons celsius "
        "fahrenheit kelvin kb mb gb tb kbps mbps gbps hz khz mhz ghz w kw kwh watt watts "
        "volt volts second seconds minute minutes hour hours day days week weeks month "
        "months year years ms sec secs min mins hr hrs"
    )
)
# The marked side of an axis: present in one query and absent from the other, it vetoes
# alone ("best examples" / "examples", "log out of" / "log out off").  The other side's
# words ("on", "more", "open"...) are too common to mean anything alone.
_MARKED = frozenset(
    _words(
        "off disable disabled disabling deactivate turn_off uninstall worst worse "
        "disadvantages cons drawbacks sell selling decrease decreasing unlock unlocking "
        "decrypt decrypting lose losing false hide hiding deny denying forbid"
    )
)
# Capitalised words that are not names.
_NOT_NAMES = frozenset(_words("i i'm i've i'd i'll ok"))


@dataclass(frozen=True, slots=True)
class Features:
    """What :func:`veto` compares, read once per text."""

    words: frozenset[str]
    numbers: tuple[str, ...]  # in order: "T3 L1" is not "T1 L3"
    dates: frozenset[str]
    negations: int  # how many words negate: "can't ... without" is 2
    polarity: tuple[int, ...]  # per axis: +1, -1, 0 (neither) or 2 (both)
    marked: frozenset[str]  # words that turn a request around on their own ("off", "worst")
    names: tuple[str, ...]  # in order: "India attack Pakistan" is not "Pakistan attack India"
    units: tuple[str, ...]  # in order of appearance: "5 km to miles" is not "5 miles to km"


def _polarity(words: frozenset[str]) -> tuple[int, ...]:
    signs = []
    for plus, minus in _AXES:
        has_plus, has_minus = bool(words & plus), bool(words & minus)
        signs.append(2 if has_plus and has_minus else 1 if has_plus else -1 if has_minus else 0)
    return tuple(signs)


def _sentence_starts(text: str, found: list[re.Match[str]]) -> set[int]:
    """The indexes of the words in ``found`` that start a sentence, found by walking back
    from each over the blanks, quotes and brackets before it (never past the last letter
    or digit of the word before: one pass over the text in all, where searching the text
    up to each word for a sentence's end cost time in the square of its length)."""
    starts: set[int] = set()
    for index, match in enumerate(found):
        at = match.start()
        while at > 0 and (text[at - 1].isspace() or text[at - 1] in _LEAD):
            if text[at - 1] == "\n":
                break
            at -= 1
        if at == 0 or text[at - 1] in _ENDS:
            starts.add(index)
    return starts


@lru_cache(maxsize=4096)
def features(text: str) -> Features:
    found = list(_WORD.finditer(text))
    tokens = [m.group() for m in found]
    lowered = [t.lower().replace("’", "'") for t in tokens]
    words = set(lowered)
    # "turn on" / "switch on" and "turn off" read as one word each for the on/off axis.
    for index, word in enumerate(lowered[:-1]):
        if word in ("turn", "switch", "power") and lowered[index + 1] in ("on", "off"):
            words.add(f"turn_{lowered[index + 1]}")
    negations = sum(w.replace("'", "") in _NEGATIONS or w.endswith("n't") for w in lowered)
    numbers = tuple(
        token.replace(",", "") if token[0].isdigit() else _NUMBER_WORDS[word]
        for token, word in zip(tokens, lowered, strict=True)
        if token[0].isdigit() or word in _NUMBER_WORDS
    )
    starts = _sentence_starts(text, found)
    names = tuple(
        lowered[i]
        for i, token in enumerate(tokens)
        if i not in starts and token[0].isupper() and lowered[i] not in _NOT_NAMES
    )
    frozen = frozenset(words)
    return Features(
        words=frozen,
        numbers=numbers,
        dates=frozenset(words & _DATE_WORDS),
        negations=negations,
        polarity=_polarity(frozen),
        marked=frozen & _MARKED,
        names=names,
        units=tuple(dict.fromkeys(w for w in lowered if w in _UNITS)),
    )


def veto(cached: str, query: str) -> str | None:
    """The name of the first check the pair fails ("numbers", "dates", "negation",
    "polarity", "names", "units"), or ``None`` when the cached answer may be served."""
    a, b = features(cached), features(query)
    if a.numbers != b.numbers:
        return "numbers"
    if a.dates != b.dates:
        return "dates"
    if a.negations != b.negations:
        return "negation"
    for one, other in zip(a.polarity, b.polarity, strict=True):
        if one != other and one != 0 and other != 0:
            return "polarity"
    if a.marked != b.marked:
        return "polarity"
    if not set(a.names) <= b.words or not set(b.names) <= a.words:
        return "names"
    if [n for n in a.names if n in b.names] != [n for n in b.names if n in a.names]:
        return "names"
    if a.units != b.units:
        return "units"
    return None
