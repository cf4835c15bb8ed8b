"""The near-duplicate check is bounded: at most ``MAX_COMPARED_WORDS`` words compared in
one call, the documents after that point kept or left out by score and budget alone (and
counted), so a thousand long documents alike in size cannot hold the event loop for tens
of seconds."""

from __future__ import annotations

import pytest

from thrifty.context import select
from thrifty.context.stage import summary
from thrifty.tokens import TokenCounter

COUNTER = TokenCounter()


def test_under_the_bound_every_document_is_checked() -> None:
    docs = [
        "alpha beta gamma delta " * 50,
        "alpha beta gamma delta " * 50,
        "other words " * 80,
    ]
    found = select.select_context(
        "alpha", docs, budget_tokens=10_000, min_tokens=0, counter=COUNTER
    )
    assert [reason for _, reason in found.dropped] == ["duplicate"]
    assert found.unchecked == 0
    assert "not checked" not in summary(found, len(docs))


def test_past_the_bound_documents_are_kept_unchecked_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(select, "MAX_COMPARED_WORDS", 1)
    docs = ["alpha beta gamma delta " * 50] * 4
    found = select.select_context(
        "alpha", docs, budget_tokens=10_000, min_tokens=0, counter=COUNTER
    )
    # The first is checked (against nothing), the second found a duplicate (which passes
    # the bound), the other two are kept without the check.
    assert [reason for _, reason in found.dropped] == ["duplicate"]
    assert found.unchecked == 2
    assert len(found.kept) == 3
    assert summary(found, len(docs)).endswith(", 2 not checked for duplicates")


@pytest.mark.timeout(30)
def test_no_blow_up_on_a_thousand_long_documents_alike_in_size() -> None:
    """1,000 documents of 1,000 words, 880 of them shared (Jaccard 0.79: none a duplicate):
    every pair compared took 38 s of CPU before the bound."""
    shared = " ".join(f"c{i}" for i in range(880))
    docs = [f"{shared} " + " ".join(f"u{d}x{w}" for w in range(120)) for d in range(1000)]
    found = select.select_context("c1", docs, budget_tokens=10**9, min_tokens=0, counter=COUNTER)
    assert len(found.kept) == 1000
    assert found.unchecked > 0
