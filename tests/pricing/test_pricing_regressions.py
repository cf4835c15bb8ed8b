"""Regression tests for cost bugs seen in other gateways, and cross-checks against
genai-prices' own ``calc_price`` so a mapping mistake cannot hide."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price

from thrifty.pricing import PriceBook
from thrifty.types import Usage


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_cache_reads_are_not_billed_at_the_full_input_rate(book: PriceBook) -> None:
    # claude-sonnet-4-5: a fully cached 10_000-token prompt, no output.
    #   right: 10_000 * 0.3 = 3000 -> $0.003
    #   bug:   10_000 * 3   = 30_000 -> $0.03
    usage = Usage(input_tokens=10_000, cache_read_tokens=10_000)
    assert book.cost(usage, "claude-sonnet-4-5").usd == Decimal("0.003")


def test_cache_writes_are_not_counted_twice(book: PriceBook) -> None:
    # input_tokens already includes the cache writes.  10_000 tokens written to the 5m cache:
    #   right: 10_000 * 3.75 = 37_500 -> $0.0375
    #   bug:   10_000 * 3.75 + 10_000 * 3 (again as plain input) = 67_500 -> $0.0675
    usage = Usage(input_tokens=10_000, cache_write_5m_tokens=10_000)
    assert book.cost(usage, "claude-sonnet-4-5").usd == Decimal("0.0375")
    # Same for the 1h cache: 10_000 * 6 = 60_000 -> $0.06 (bug: $0.09)
    usage_1h = Usage(input_tokens=10_000, cache_write_1h_tokens=10_000)
    assert book.cost(usage_1h, "claude-sonnet-4-5").usd == Decimal("0.06")


def test_reasoning_tokens_are_not_added_to_output(book: PriceBook) -> None:
    # output_tokens includes reasoning: o3 output $8 -> 1000 * 8 = 8000 -> $0.008
    usage = Usage(output_tokens=1000, reasoning_tokens=900)
    assert book.cost(usage, "o3").usd == Decimal("0.008")


CROSS_CHECK = [
    ("gpt-4o", None, Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)),
    ("gpt-4o-mini", None, Usage(input_tokens=123_456, cache_read_tokens=23_456, output_tokens=789)),
    (
        "claude-sonnet-4-5",
        None,
        Usage(
            input_tokens=10_000,
            cache_read_tokens=6000,
            cache_write_5m_tokens=2000,
            cache_write_1h_tokens=1000,
            output_tokens=500,
        ),
    ),
    ("claude-sonnet-4-5", None, Usage(input_tokens=250_000, cache_read_tokens=1, output_tokens=9)),
    ("claude-haiku-4-5", None, Usage(input_tokens=5000, cache_write_5m_tokens=5000)),
    ("gemini-2.5-pro", None, Usage(input_tokens=300_000, cache_read_tokens=100, output_tokens=2)),
    ("gemini-2.5-pro", None, Usage(input_tokens=1000, output_tokens=2000)),
    # Multi-tier model (32k and 128k thresholds), one call per tier.
    ("qwen/qwen3-coder-flash", "openrouter", Usage(input_tokens=30_000, output_tokens=100)),
    ("qwen/qwen3-coder-flash", "openrouter", Usage(input_tokens=100_000, output_tokens=100)),
    ("qwen/qwen3-coder-flash", "openrouter", Usage(input_tokens=200_000, output_tokens=100)),
]


@pytest.mark.parametrize(("model", "provider", "usage"), CROSS_CHECK)
def test_agrees_with_genai_prices_calc_price(
    book: PriceBook, model: str, provider: str | None, usage: Usage
) -> None:
    genai_usage = GenaiUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
    )
    expected = calc_price(genai_usage, model, provider_id=provider).total_price
    assert book.cost(usage, model, provider=provider).usd == expected


def test_multi_tier_model_chains_tiers(book: PriceBook) -> None:
    rates = book.rates("qwen/qwen3-coder-flash", provider="openrouter")
    assert rates is not None
    assert rates.long_context_threshold == 32_000
    assert rates.long_context is not None
    assert rates.long_context.long_context_threshold == 128_000
    assert rates.long_context.long_context is not None
    assert rates.long_context.long_context.long_context is None
    assert rates.tier_for(200_000) is rates.long_context.long_context
