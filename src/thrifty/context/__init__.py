"""Context selection: given a query and candidate documents (or chunks) with metadata,
keep those that match the metadata filter, rank them by relevance (BM25, plus embeddings
when an embedder is given), drop near-duplicates and pack the best into a token budget
(docs/levers/fewer-tokens.md, "Context selection")::

    from thrifty.context import select_context
    picked = select_context("refund policy?", chunks, budget_tokens=1500, model="gpt-4o")
    prompt_docs = picked.texts

Documents totalling ``min_tokens`` (default 2,000) or less are kept as given.
"""

from thrifty.context.documents import Document, as_document, matches
from thrifty.context.select import DEFAULT_MIN_TOKENS, Scored, Selection, select_context

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "Document",
    "Scored",
    "Selection",
    "as_document",
    "matches",
    "select_context",
]
