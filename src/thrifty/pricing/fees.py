"""Server-side tool fees: what a provider charges per use of a tool it runs itself.

A call's ``server_tools`` counts (``(("web_search", 3),)``) are priced at, first match wins:

1. the matching user override's ``web_search_per_1k`` / ``file_search_per_1k``;
2. the model's own fee in genai-prices' data (``web_searches_kcount`` for ``web_search``,
   ``storage_searches_kcount`` for ``file_search``, USD per 1,000), resolved for the
   call's date like every other price;
3. :data:`PROVIDER_TOOL_FEES`, the providers' published list prices, keyed by genai-prices
   provider id, for models whose data states no fee (and for overrides that set none).

A kind with no known fee is not charged (the token cost still is); the price book logs it
once.  Fees are never batch-discounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from thrifty.pricing.rates import quantize_rate

# genai-prices price key (USD per 1,000) for each server-tool kind thrifty counts.
GENAI_TOOL_KEYS: Mapping[str, str] = {
    "web_search": "web_searches_kcount",
    "file_search": "storage_searches_kcount",
}

# USD per 1,000 uses, from the providers' public price pages:
# - Anthropic: web search "$10 per 1,000 searches" (plus the tokens it adds to the prompt).
# - OpenAI: web search tool calls $10 per 1,000 (the older "web search preview" on
#   non-reasoning models listed $25 per 1,000: override it per model if you use that);
#   file search tool calls $2.50 per 1,000.
PROVIDER_TOOL_FEES: Mapping[str, Mapping[str, Decimal]] = {
    "anthropic": {"web_search": Decimal(10)},
    "openai": {"web_search": Decimal(10), "file_search": Decimal("2.5")},
}


def merge_fees(
    first: Mapping[str, Decimal], provider: str | None
) -> tuple[tuple[str, Decimal], ...]:
    """``first`` (the more specific fees), completed by the provider's published fees;
    every fee rounded to six decimals, sorted by kind."""
    fees = dict(PROVIDER_TOOL_FEES.get(provider or "", {}))
    fees.update(first)
    return tuple(sorted((kind, quantize_rate(fee)) for kind, fee in fees.items()))
