"""The faster context selection selects exactly what the first version did.

The first version of each rewritten piece is kept here as it was (word cutting through
``str.lower`` and ``str.replace``, BM25 through ``Counter.update``, the duplicate check
through the full set overlap, a count per document), and hypothesis checks that the
current code gives the same words, the same scores to the last bit, the same duplicate
decisions, the same counts, and the same ``Selection`` and rendered block, on texts built
to hit the edge cases: shared words, near-duplicates, ties, non-ASCII punctuation, letters
whose lower case is not themselves (``Σ``, ``İ``, the Kelvin sign), budgets that cut."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.context import Document, Scored, Selection, as_document, matches, select_context
from thrifty.context.bm25 import bm25_of_bags, jaccard, jaccard_at_most, jaccard_reaches, words
from thrifty.context.select import MAX_COMPARED_WORDS, Reason
from thrifty.context.stage import render
from thrifty.tokens import TokenCounter

COUNTER = TokenCounter()

# -- the first version ------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
_ASCII_NON_WORD = bytes(
    c if c >= 128 or chr(c).isalnum() or chr(c) == "_" else 32 for c in range(256)
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def first_words(text: str) -> list[str]:
    lowered = text.lower()
    if not lowered.isascii():
        others = [c for c in set(_NON_ASCII.findall(lowered)) if not (c.isalnum() or c == "_")]
        if len(others) > 16:
            return _WORD.findall(lowered)
        for character in others:
            lowered = lowered.replace(character, " ")
    return lowered.encode().translate(_ASCII_NON_WORD).decode().split()


def first_bm25_of_bags(
    query: Sequence[str],
    bags: Sequence[Mapping[str, int]],
    lengths: Sequence[int],
    k1: float = 1.5,
    b: float = 0.75,
) -> list[float]:
    if not bags:
        return []
    average = sum(lengths) / len(bags) or 1.0
    terms = set(query)
    holding: Counter[str] = Counter()
    shared = [[term for term in terms if term in bag] for bag in bags]
    for found in shared:
        holding.update(found)
    total = len(bags)
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in holding.items()}
    scores = []
    for bag, found, length in zip(bags, shared, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        score = 0.0
        for term in found:
            freq = bag[term]
            score += idf[term] * freq * (k1 + 1) / (freq + norm)
        scores.append(score)
    return scores


def first_duplicate(
    i: int,
    chosen: Sequence[int],
    word_sets: Sequence[AbstractSet[str]],
    vectors: Any,
    threshold: float,
) -> tuple[bool, int]:
    a = word_sets[i]
    compared = 0
    for j in chosen:
        b = word_sets[j]
        compared += 1
        if jaccard_at_most(len(a), len(b)) >= threshold:
            compared += min(len(a), len(b))
            if jaccard(a, b) >= threshold:
                return True, compared
        if vectors is not None and float(vectors[i] @ vectors[j]) >= threshold:
            return True, compared
    return False, compared


def first_select_context(
    query: str,
    docs: Iterable[Any],
    *,
    budget_tokens: int,
    model: str = "gpt-4o",
    where: Any = None,
    embedder: Any = None,
    lexical_weight: float = 0.5,
    duplicate_threshold: float = 0.9,
    min_tokens: int = 2000,
    keep_order: bool = False,
    counter: TokenCounter,
) -> Selection:
    dropped: list[tuple[Document, Reason]] = []
    candidates: list[Document] = []
    for index, value in enumerate(docs):
        doc = as_document(value, index)
        if matches(doc.metadata, where):
            candidates.append(doc)
        else:
            dropped.append((doc, "filtered"))
    tokens = [counter.count_text(model, d.text).tokens for d in candidates]
    if sum(tokens) <= min_tokens:
        kept = tuple(Scored(d, n, 1.0, 1.0, None) for d, n in zip(candidates, tokens, strict=True))
        return Selection(kept, tuple(dropped), sum(tokens), budget_tokens, untouched=True)
    cut = [first_words(d.text) for d in candidates]
    bags = [Counter(w) for w in cut]
    lexical = first_bm25_of_bags(first_words(query), bags, [len(w) for w in cut])
    best = max(lexical, default=0.0) or 1.0
    lexical = [s / best for s in lexical]
    vectors = None
    if embedder is not None and candidates:
        vectors = embedder.embed([*(d.text for d in candidates), query])
    semantic = None
    if vectors is not None:
        semantic = [max(0.0, float(s)) for s in vectors[:-1] @ vectors[-1]]
    weight = lexical_weight if semantic is not None else 1.0
    scores = [
        weight * lex + (1 - weight) * (semantic[i] if semantic is not None else 0.0)
        for i, lex in enumerate(lexical)
    ]
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    word_sets = [bag.keys() for bag in bags]
    left = budget_tokens
    left_out = 0
    compared = unchecked = 0
    for i in order:
        doc = candidates[i]
        duplicate = False
        if compared < MAX_COMPARED_WORDS:
            duplicate, cost = first_duplicate(i, chosen, word_sets, vectors, duplicate_threshold)
            compared += cost
        else:
            unchecked += 1
        if duplicate:
            dropped.append((doc, "duplicate"))
            left_out += tokens[i]
        elif tokens[i] > left:
            dropped.append((doc, "over budget"))
            left_out += tokens[i]
        else:
            chosen.append(i)
            left -= tokens[i]
    if keep_order:
        chosen.sort()
    kept = tuple(
        Scored(
            candidates[i],
            tokens[i],
            scores[i],
            lexical[i],
            None if semantic is None else semantic[i],
        )
        for i in chosen
    )
    return Selection(
        kept,
        tuple(dropped),
        budget_tokens - left,
        budget_tokens,
        False,
        left_out_tokens=left_out,
        unchecked=unchecked,
    )


# -- inputs -----------------------------------------------------------------------------

PIECES = [
    "refund", "Refund", "REFUNDS", "policy", "days", "30", "ship", "the", "a", "of",
    "café", "Café", "naïve", "ΣΟΦΙΑ", "Σ", "İstanbul", "\u212a", "x_y", "文字",
    "—", "’", "“", "🙂", "→", "\u00a0", "-", ",", ".", "\n", "\t", "\x1c", "ǅ", "ß",
]  # fmt: skip
WORDS = st.lists(st.sampled_from(PIECES), max_size=40)
SEPARATORS = st.sampled_from([" ", "", "\n", " - "])


@st.composite
def texts(draw: st.DrawFn) -> str:
    return draw(SEPARATORS).join(draw(WORDS))


@st.composite
def documents(draw: st.DrawFn) -> list[Document]:
    """Texts, some of them another with a word or two changed (near-duplicates), with a
    metadata field to filter on."""
    out: list[Document] = []
    for index in range(draw(st.integers(0, 10))):
        if out and draw(st.booleans()):
            base = draw(st.sampled_from(out)).text
            text = base + draw(st.sampled_from(["", " refund", " the", "!"]))
        else:
            text = draw(texts())
        out.append(Document(text, str(index), {"lang": draw(st.sampled_from(["en", "fr"]))}))
    return out


class Axes:
    """A fake embedder: each text is the unit vector of the first axis word it holds."""

    def embed(self, texts: Sequence[str]) -> Any:
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for row, text in enumerate(texts):
            for axis, word in enumerate(("refund", "ship", "café")):
                if word in text:
                    out[row, axis] = 1.0
                    break
        return out


# -- the checks -------------------------------------------------------------------------


@given(st.one_of(texts(), st.text()))
def test_the_same_words(text: str) -> None:
    assert words(text) == first_words(text)


@given(st.lists(texts(), max_size=8), texts())
def test_the_same_bm25_scores_to_the_last_bit(docs: list[str], query: str) -> None:
    cut = [words(d) for d in docs]
    bags = [Counter(w) for w in cut]
    lengths = [len(w) for w in cut]
    new = bm25_of_bags(words(query), bags, lengths)
    assert new == first_bm25_of_bags(words(query), bags, lengths)


THRESHOLDS = st.one_of(
    st.sampled_from([0.9, 0.5, 1.0, 0.0, 1 / 3, 0.95, 0.8999999999999999]),
    st.floats(min_value=-1.0, max_value=2.0),
    st.floats(),
)


@settings(max_examples=500)
@given(st.sets(st.integers(0, 120)), st.sets(st.integers(0, 120)), THRESHOLDS)
def test_the_same_duplicate_decision(a: set[int], b: set[int], threshold: float) -> None:
    as_words, bs_words = {str(i) for i in a}, {str(i) for i in b}
    expected = jaccard(as_words, bs_words) >= threshold
    assert jaccard_reaches(as_words, bs_words, threshold) is expected
    assert jaccard_reaches(bs_words, as_words, threshold) is expected


@settings(deadline=None)  # the first count loads the encoding
@given(st.lists(st.one_of(texts(), st.text(max_size=400)), max_size=6))
def test_the_same_counts(docs: list[str]) -> None:
    for model in ("gpt-4o", "claude-sonnet-4-5"):  # exact, and scaled
        expected = [COUNTER.count_text(model, d).tokens for d in docs]
        assert COUNTER.count_texts(model, docs) == expected


@settings(max_examples=300, deadline=None)
@given(
    documents(),
    texts(),
    st.integers(0, 300),
    st.integers(0, 120),
    st.sampled_from([0.9, 0.5, 0.8, 1.0, 0.0]),
    st.booleans(),
    st.sampled_from([None, {"lang": "en"}]),
    st.booleans(),
)
def test_the_same_selection_and_block(
    docs: list[Document],
    query: str,
    budget: int,
    min_tokens: int,
    threshold: float,
    keep_order: bool,
    where: dict[str, str] | None,
    embedded: bool,
) -> None:
    arguments: dict[str, Any] = {
        "budget_tokens": budget,
        "min_tokens": min_tokens,
        "duplicate_threshold": threshold,
        "keep_order": keep_order,
        "where": where,
        "embedder": Axes() if embedded else None,
        "counter": COUNTER,
    }
    new = select_context(query, docs, **arguments)
    first = first_select_context(query, docs, **arguments)
    assert new == first
    assert render(new.documents) == render(first.documents)
