"""select_context: the metadata filter, BM25 ranking (checked by hand on a tiny corpus),
embeddings, near-duplicates, packing, and the small-prompt pass-through."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from thrifty.context import Document, select_context
from thrifty.context.bm25 import bm25_scores, jaccard, words
from thrifty.tokens import TokenCounter

COUNTER = TokenCounter()


def filler(topic: str, n: int) -> str:
    return " ".join(f"{topic}{i % 7}" for i in range(n))


def test_bm25_matches_the_formula_by_hand() -> None:
    texts = ["apple banana", "apple apple cherry", "cherry"]
    scores = bm25_scores("apple", texts)
    # N=3, apple in 2 docs: idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln(1.6); avgdl = (2 + 3 + 1) / 3 = 2
    idf = math.log(1.6)
    norm0 = 1.5 * (1 - 0.75 + 0.75 * 2 / 2)
    norm1 = 1.5 * (1 - 0.75 + 0.75 * 3 / 2)
    assert scores[0] == pytest.approx(idf * 1 * 2.5 / (1 + norm0))
    assert scores[1] == pytest.approx(idf * 2 * 2.5 / (2 + norm1))
    assert scores[2] == 0.0
    assert bm25_scores("x", []) == []


def test_words_and_jaccard() -> None:
    assert words("Refund-policy: 30 DAYS") == ["refund", "policy", "30", "days"]
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


def corpus() -> list[dict[str, Any]]:
    return [
        {
            "id": "refund",
            "text": "Refunds are paid within 30 days. " + filler("r", 300),
            "metadata": {"lang": "en", "kind": "policy"},
        },
        {
            "id": "refund-fr",
            "text": "Remboursement sous 30 jours. " + filler("f", 300),
            "metadata": {"lang": "fr", "kind": "policy"},
        },
        {
            "id": "shipping",
            "text": "Shipping takes 5 days. " + filler("s", 300),
            "metadata": {"lang": "en", "kind": "policy"},
        },
        {
            "id": "refund-copy",
            "text": "Refunds are paid within 30 days. " + filler("r", 300),
            "metadata": {"lang": "en", "kind": "policy"},
        },
        {
            "id": "careers",
            "text": "We are hiring. " + filler("c", 300),
            "metadata": {"lang": "en", "kind": "jobs"},
        },
    ]


def test_filter_rank_dedupe_and_pack() -> None:
    picked = select_context(
        "how many days for refunds?",
        corpus(),
        budget_tokens=1300,  # two documents of ~610 tokens
        where={"lang": "en", "kind": ["policy"]},
        min_tokens=100,
        counter=COUNTER,
    )
    assert [d.id for d in picked.documents] == ["refund", "shipping"]
    reasons = {d.id: why for d, why in picked.dropped}
    assert reasons == {"refund-fr": "filtered", "careers": "filtered", "refund-copy": "duplicate"}
    assert picked.tokens == sum(s.tokens for s in picked.kept) <= 1300
    assert picked.kept[0].score == 1.0 and not picked.untouched


def test_a_document_over_the_budget_left_is_skipped_for_smaller_ones() -> None:
    docs = [
        Document("refund " + filler("a", 600), "big"),
        Document("refund policy " + filler("b", 100), "small"),
        Document("unrelated " + filler("c", 100), "other"),
    ]
    picked = select_context("refund", docs, budget_tokens=450, min_tokens=0, counter=COUNTER)
    assert [d.id for d in picked.documents] == ["small", "other"]
    assert [(d.id, why) for d, why in picked.dropped] == [("big", "over budget")]


def test_keep_order_returns_the_given_order() -> None:
    docs = ["zeta " + filler("z", 50), "alpha query " + filler("a", 50)]
    ranked = select_context("query", docs, budget_tokens=1000, min_tokens=0, counter=COUNTER)
    assert ranked.texts == [docs[1], docs[0]]
    ordered = select_context(
        "query", docs, budget_tokens=1000, min_tokens=0, keep_order=True, counter=COUNTER
    )
    assert ordered.texts == docs


def test_small_prompts_are_untouched_but_still_filtered() -> None:
    docs = [
        {"text": "b", "metadata": {"ok": True}},
        {"text": "a", "metadata": {"ok": False}},
        {"text": "b", "metadata": {"ok": True}},
    ]
    picked = select_context("a", docs, budget_tokens=1, where={"ok": True}, counter=COUNTER)
    assert picked.untouched and picked.texts == ["b", "b"]
    assert [why for _, why in picked.dropped] == ["filtered"]


class Axes:
    """A fake embedder: each text is the unit vector of the first axis word it holds."""

    model_id = "axes"
    dimensions = 3

    def embed(self, texts: Sequence[str]) -> Any:
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for row, text in enumerate(texts):
            for axis, word in enumerate(("money", "parcel", "job")):
                if word in text:
                    out[row, axis] = 1.0
                    break
        return out


def test_embeddings_rank_what_words_miss_and_catch_paraphrases() -> None:
    docs = [
        Document("parcel delivery takes 5 days " + filler("p", 200), "ship"),
        Document("money back within 30 days " + filler("m", 200), "refund"),
        Document("money returned after 30 days " + filler("n", 200), "refund-again"),
    ]
    picked = select_context(
        "can I get my money back?",
        docs,
        budget_tokens=10_000,
        embedder=Axes(),
        min_tokens=0,
        counter=COUNTER,
    )
    assert [d.id for d in picked.documents] == ["refund", "ship"]
    assert [(d.id, why) for d, why in picked.dropped] == [("refund-again", "duplicate")]
    assert picked.kept[0].semantic == 1.0 and picked.kept[1].semantic == 0.0


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([{"text": 3}], "document 0: 'text' must be a string"),
        (["ok", {"text": "x", "id": []}], "document 1: 'id' must be a string or a number"),
        ([{"text": "x", "metadata": []}], "document 0: 'metadata' must be an object"),
        ([None], "document 0: expected a string"),
    ],
)
def test_bad_documents_are_named(docs: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_context("q", docs, budget_tokens=10, counter=COUNTER)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="budget_tokens"):
        select_context("q", [], budget_tokens=-1)
    with pytest.raises(ValueError, match="lexical_weight"):
        select_context("q", [], budget_tokens=1, lexical_weight=2)


def test_a_callable_filter() -> None:
    docs = [{"text": "a", "metadata": {"n": 1}}, {"text": "b", "metadata": {"n": 5}}]
    picked = select_context(
        "a", docs, budget_tokens=10, where=lambda m: m["n"] > 2, counter=COUNTER
    )
    assert picked.texts == ["b"]


def test_left_out_tokens_are_the_dropped_documents_exact_counts() -> None:
    docs = [
        {"text": filler("refund", 300), "metadata": {"lang": "en"}},
        {"text": filler("refund", 300), "metadata": {"lang": "en"}},  # a duplicate
        {"text": filler("shipping", 400), "metadata": {"lang": "en"}},
        {"text": filler("returns", 900), "metadata": {"lang": "en"}},  # over the budget left
        {"text": filler("refund", 500), "metadata": {"lang": "fr"}},  # filtered
    ]
    picked = select_context(
        "refund shipping",
        docs,
        budget_tokens=1500,
        min_tokens=0,
        where={"lang": "en"},
        counter=COUNTER,
    )
    reasons = [why for _, why in picked.dropped]
    assert sorted(reasons) == ["duplicate", "filtered", "over budget"]
    expected = sum(
        COUNTER.count_text("gpt-4o", doc.text).tokens
        for doc, why in picked.dropped
        if why != "filtered"
    )
    assert picked.left_out_tokens == expected > 0
