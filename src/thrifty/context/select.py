"""``select_context``: filter, rank, drop near-duplicates, pack into a token budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from thrifty.context.bm25 import bm25_of_terms, jaccard_reaches, word_bytes, words
from thrifty.context.documents import Document, Where, as_document, matches
from thrifty.tokens import TokenCounter

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder

DEFAULT_MIN_TOKENS = 2000
# The near-duplicate check compares each document with those kept before it: time in the
# square of the number of documents, times their words.  It compares at most this many
# words (set lookups) in one call, a fraction of a second; the documents after that point
# are kept or left out by score and budget alone (``Selection.unchecked`` counts them).
MAX_COMPARED_WORDS = 4_000_000
Reason = Literal["filtered", "duplicate", "over budget"]


@dataclass(frozen=True, slots=True)
class Scored:
    """A kept document, its tokens and how it ranked (``score`` in [0, 1]: the weighted
    sum of the lexical score, scaled by the best one, and the embedding cosine)."""

    document: Document
    tokens: int
    score: float
    lexical: float
    semantic: float | None


@dataclass(frozen=True, slots=True)
class Selection:
    """What ``select_context`` kept (best first, or in the given order with
    ``keep_order``) and what it dropped, with why.  ``untouched``: the documents were under
    ``min_tokens`` and were kept as given (after the metadata filter).  ``left_out_tokens``:
    the tokens of the documents dropped as duplicates or over the budget (those the
    metadata filter dropped are not counted)."""

    kept: tuple[Scored, ...]
    dropped: tuple[tuple[Document, Reason], ...]
    tokens: int
    budget_tokens: int
    untouched: bool
    left_out_tokens: int = 0
    unchecked: int = 0  # documents not checked for near-duplicates (MAX_COMPARED_WORDS)

    @property
    def documents(self) -> list[Document]:
        return [s.document for s in self.kept]

    @property
    def texts(self) -> list[str]:
        return [s.document.text for s in self.kept]


def _embedded(embedder: Embedder | None, query: str, docs: Sequence[Document]) -> Any:
    """The documents' unit vectors, then the query's (``None`` without an embedder)."""
    if embedder is None or not docs:
        return None
    return embedder.embed([*(d.text for d in docs), query])


def select_context(
    query: str,
    docs: Iterable[Any],
    *,
    budget_tokens: int,
    model: str = "gpt-4o",
    where: Where | None = None,
    embedder: Embedder | None = None,
    lexical_weight: float = 0.5,
    duplicate_threshold: float = 0.9,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    keep_order: bool = False,
    counter: TokenCounter | None = None,
) -> Selection:
    """The documents worth sending with ``query``, within ``budget_tokens`` (counted for
    ``model``).

    Documents (strings, :class:`Document` or ``{"text", "id", "metadata"}`` mappings) that
    fail ``where`` are dropped first.  If the rest is ``min_tokens`` or less, all of it is
    kept as given: pruning a short prompt saves little and risks the answer.  Otherwise
    each is scored by BM25 against the query (scaled by the best score) and, with an
    ``embedder`` (such as the semantic cache's ``MiniLMEmbedder``), by cosine similarity,
    weighted ``lexical_weight`` to ``1 - lexical_weight``; in score order, a document too
    like one already kept (word-set Jaccard, or embedding cosine, at or above
    ``duplicate_threshold``) is dropped, and the rest are packed greedily: one that does
    not fit the budget left is skipped for smaller ones after it."""
    if budget_tokens < 0:
        raise ValueError("budget_tokens must be >= 0")
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError("lexical_weight must be between 0 and 1")
    counter = counter or TokenCounter()
    dropped: list[tuple[Document, Reason]] = []
    candidates: list[Document] = []
    for index, value in enumerate(docs):
        doc = as_document(value, index)
        if matches(doc.metadata, where):
            candidates.append(doc)
        else:
            dropped.append((doc, "filtered"))
    tokens = counter.count_texts(model, [d.text for d in candidates])
    if sum(tokens) <= min_tokens:
        kept = tuple(Scored(d, n, 1.0, 1.0, None) for d, n in zip(candidates, tokens, strict=True))
        return Selection(kept, tuple(dropped), sum(tokens), budget_tokens, untouched=True)
    bags: list[Counter[bytes]] = []
    lengths: list[int] = []
    for doc in candidates:  # each word list let go once counted: its memory is reused
        cut = word_bytes(doc.text)
        bags.append(Counter(cut))
        lengths.append(len(cut))
    # The query's distinct words in the order of their ``str`` set, which BM25 sums in.
    terms = [term.encode() for term in set(words(query))]
    lexical = bm25_of_terms(terms, bags, lengths)
    best = max(lexical, default=0.0) or 1.0
    lexical = [s / best for s in lexical]
    vectors = _embedded(embedder, query, candidates)
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
            duplicate, cost = _duplicate(i, chosen, word_sets, vectors, duplicate_threshold)
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


def _duplicate(
    i: int,
    chosen: Sequence[int],
    word_sets: Sequence[AbstractSet[bytes]],
    vectors: Any,
    threshold: float,
) -> tuple[bool, int]:
    """Whether document ``i`` is too like one of ``chosen`` (word-set Jaccard, or embedding
    cosine, at or above ``threshold``), and the words compared to find out (a pair counts
    one at least)."""
    a = word_sets[i]
    size = len(a)
    compared = 0
    for j in chosen:
        b = word_sets[j]
        compared += 1
        # jaccard_at_most(size, len(b)), written out (a call a pair cost 3% of selection)
        smaller, larger = (size, len(b)) if size <= len(b) else (len(b), size)
        if (smaller / larger if larger else 0.0) >= threshold:
            compared += smaller
            if jaccard_reaches(a, b, threshold):
                return True, compared
        if vectors is not None and float(vectors[i] @ vectors[j]) >= threshold:
            return True, compared
    return False, compared
