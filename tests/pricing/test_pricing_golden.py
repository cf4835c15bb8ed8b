"""Golden cost tests: every expected dollar amount is computed by hand in the comment next
to it, from the rates in genai-prices' bundled snapshot (USD per million tokens)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from thrifty.config import PriceOverride
from thrifty.pricing import PriceBook
from thrifty.types import UNPRICED, Cost, Usage


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_openai_cached_input(book: PriceBook) -> None:
    # gpt-4o: input $2.5, cached input $1.25, output $10.
    # 1000 input of which 200 cached, 100 output:
    #   800 * 2.5 + 200 * 1.25 + 100 * 10 = 2000 + 250 + 1000 = 3250 -> $0.00325
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    assert book.cost(usage, "gpt-4o") == Cost(usd=Decimal("0.00325"), source="genai-prices")
    # Same model by a dated alias, and with the provider given explicitly.
    assert book.cost(usage, "gpt-4o-2024-08-06").usd == Decimal("0.00325")
    assert book.cost(usage, "gpt-4o", provider="openai").usd == Decimal("0.00325")


def test_anthropic_cache_read_and_both_cache_writes(book: PriceBook) -> None:
    # claude-sonnet-4-5: input $3, cache read $0.3, 5m write $3.75, 1h write $6, output $15.
    # 10_000 input = 1000 uncached + 6000 read + 2000 5m-write + 1000 1h-write; 500 output:
    #   1000*3 + 6000*0.3 + 2000*3.75 + 1000*6 + 500*15
    #   = 3000 + 1800 + 7500 + 6000 + 7500 = 25_800 -> $0.0258
    usage = Usage(
        input_tokens=10_000,
        cache_read_tokens=6000,
        cache_write_5m_tokens=2000,
        cache_write_1h_tokens=1000,
        output_tokens=500,
    )
    assert book.cost(usage, "claude-sonnet-4-5").usd == Decimal("0.0258")
    assert book.cost(usage, "claude-sonnet-4-5-20250929").usd == Decimal("0.0258")


def test_anthropic_long_context_tier_applies_to_whole_call(book: PriceBook) -> None:
    # claude-sonnet-4-5 above 200k input: input $6, cache read $0.6, output $22.5.
    # 250_000 input of which 100_000 cache read, 1000 output:
    #   150_000*6 + 100_000*0.6 + 1000*22.5 = 900_000 + 60_000 + 22_500 = 982_500 -> $0.9825
    usage = Usage(input_tokens=250_000, cache_read_tokens=100_000, output_tokens=1000)
    assert book.cost(usage, "claude-sonnet-4-5").usd == Decimal("0.9825")


def test_long_context_threshold_is_strictly_greater(book: PriceBook) -> None:
    # Exactly 200_000 input stays on the base tier:
    #   200_000*3 + 1000*15 = 600_000 + 15_000 = 615_000 -> $0.615
    at = Usage(input_tokens=200_000, output_tokens=1000)
    assert book.cost(at, "claude-sonnet-4-5").usd == Decimal("0.615")
    # One more token switches the whole call to the long-context rates:
    #   200_001*6 + 1000*22.5 = 1_200_006 + 22_500 = 1_222_506 -> $1.222506
    above = Usage(input_tokens=200_001, output_tokens=1000)
    assert book.cost(above, "claude-sonnet-4-5").usd == Decimal("1.222506")


def test_gemini_long_context_tier(book: PriceBook) -> None:
    # gemini-2.5-pro above 200k: input $2.5, output $15.
    #   300_000*2.5 + 2000*15 = 750_000 + 30_000 = 780_000 -> $0.78
    usage = Usage(input_tokens=300_000, output_tokens=2000)
    assert book.cost(usage, "gemini-2.5-pro").usd == Decimal("0.78")
    rates = book.rates("gemini-2.5-pro")
    assert rates is not None
    assert rates.long_context_threshold == 200_000
    assert rates.long_context is not None
    assert rates.long_context.input == Decimal("2.5")
    assert rates.long_context.long_context is None


def test_batch_uses_source_batch_rates(book: PriceBook) -> None:
    # claude-haiku-4-5 standard: input $1, cache read $0.1, output $5;
    # batch (genai-prices "processing: batch" variant): $0.5, $0.05, $2.5.
    # 10_000 input of which 4000 cache read, 2000 output:
    #   standard: 6000*1 + 4000*0.1 + 2000*5 = 6000 + 400 + 10_000 = 16_400 -> $0.0164
    #   batch:    6000*0.5 + 4000*0.05 + 2000*2.5 = 3000 + 200 + 5000 = 8200 -> $0.0082
    usage = Usage(input_tokens=10_000, cache_read_tokens=4000, output_tokens=2000)
    assert book.cost(usage, "claude-haiku-4-5").usd == Decimal("0.0164")
    assert book.cost(usage, "claude-haiku-4-5", batch=True).usd == Decimal("0.0082")
    rates = book.rates("claude-haiku-4-5")
    assert rates is not None
    assert rates.batch_discount == Decimal("0.5")


def test_batch_keeps_cached_input_undiscounted_where_the_source_says_so(book: PriceBook) -> None:
    # gpt-4o batch: input $1.25, output $5; OpenAI's batch table has no cached-input rate,
    # so genai-prices keeps cached input at the standard $1.25.
    #   800*1.25 + 200*1.25 + 100*5 = 1000 + 250 + 500 = 1750 -> $0.00175
    # (a flat 50% off the $0.00325 total would say $0.001625)
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    assert book.cost(usage, "gpt-4o", batch=True).usd == Decimal("0.00175")


def test_batch_fallback_discount_without_source_batch_rates(book: PriceBook) -> None:
    # gpt-4o-audio-preview has no batch variant: OpenAI's public 50% comes off every rate
    # (input $2.5 -> $1.25, output $10 -> $5).
    #   1000*2.5 + 100*10 = 2500 + 1000 = 3500 -> $0.0035
    #   batch: 1000*1.25 + 100*5 = 1250 + 500 = 1750 -> $0.00175
    usage = Usage(input_tokens=1000, output_tokens=100)
    rates = book.rates("gpt-4o-audio-preview")
    assert rates is not None
    assert rates.batch is not None
    assert rates.batch_derived
    assert (rates.batch.input, rates.batch.output) == (Decimal("1.25"), Decimal(5))
    assert rates.batch_discount == Decimal("0.5")
    assert book.cost(usage, "gpt-4o-audio-preview").usd == Decimal("0.0035")
    assert book.cost(usage, "gpt-4o-audio-preview", batch=True).usd == Decimal("0.00175")
    # Other providers without a batch price: no discount claimed.
    mistral = book.rates("mistral-large-latest")
    assert mistral is not None
    assert mistral.batch is None
    assert mistral.batch_discount == Decimal(0)


def test_overrides_exact_then_glob() -> None:
    book = PriceBook(
        {
            # The glob comes first, yet the exact key still wins for my-org/special.
            "my-org/*": PriceOverride(
                input=Decimal("0.5"), output=Decimal("1.5"), cache_read=Decimal("0.05")
            ),
            "my-org/special": PriceOverride(input=Decimal(1), output=Decimal(2)),
            "gpt-4o": PriceOverride(input=Decimal(2), output=Decimal(8)),
        }
    )
    usage = Usage(input_tokens=1000, cache_read_tokens=300, output_tokens=100)
    # my-org/special (cache read defaults to input $1):
    #   700*1 + 300*1 + 100*2 = 700 + 300 + 200 = 1200 -> $0.0012
    assert book.cost(usage, "my-org/special") == Cost(usd=Decimal("0.0012"), source="override")
    # my-org/other via the glob:
    #   700*0.5 + 300*0.05 + 100*1.5 = 350 + 15 + 150 = 515 -> $0.000515
    assert book.cost(usage, "my-org/other") == Cost(usd=Decimal("0.000515"), source="override")
    # An override beats genai-prices for a known model:
    #   700*2 + 300*2 + 100*8 = 1400 + 600 + 800 = 2800 -> $0.0028; batch (default 0.5) $0.0014
    assert book.cost(usage, "gpt-4o").usd == Decimal("0.0028")
    assert book.cost(usage, "gpt-4o", batch=True).usd == Decimal("0.0014")
    # Globs are case-sensitive and must match the whole name.
    assert book.rates("My-Org/x") is None
    assert book.rates("x/my-org/y") is None


def test_override_cache_write_defaults() -> None:
    book = PriceBook(
        {"m": PriceOverride(input=Decimal(4), output=Decimal(0), cache_write_5m=Decimal(5))}
    )
    rates = book.rates("m")
    assert rates is not None
    assert (rates.cache_read, rates.cache_write_5m, rates.cache_write_1h) == (
        Decimal(4),
        Decimal(5),
        Decimal(5),  # 1h write falls back to the 5m write rate
    )


def test_local_is_zero_only_when_explicit() -> None:
    book = PriceBook({"llama-paid": PriceOverride(input=Decimal(1), output=Decimal(1))})
    usage = Usage(input_tokens=5000, output_tokens=5000)
    assert book.cost(usage, "llama3.2:3b", local=True) == Cost(usd=Decimal(0), source="local")
    assert book.cost(usage, "llama3.2:3b") == UNPRICED
    # A known cloud model name on a local server is still $0 when configured local.
    assert book.cost(usage, "gpt-4o", local=True).usd == Decimal(0)
    # An override beats local:  5000*1 + 5000*1 = 10_000 -> $0.01
    assert book.cost(usage, "llama-paid", local=True) == Cost(Decimal("0.01"), "override")


def test_unknown_model_is_unpriced_never_zero(book: PriceBook) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert book.rates("no-such-model-xyz") is None
    cost = book.cost(usage, "no-such-model-xyz")
    assert cost is UNPRICED
    assert cost.usd is None
    assert not cost.priced
    # Known model, but not sold by the given provider (or an unknown provider id).
    assert book.cost(usage, "gpt-4o", provider="anthropic") is UNPRICED
    assert book.cost(usage, "gpt-4o", provider="no-such-provider") is UNPRICED


def test_model_without_token_prices_is_unpriced(book: PriceBook) -> None:
    # github-copilot lists gpt-4o with an empty price set: that is "unknown", not "$0".
    assert book.rates("gpt-4o", provider="github-copilot") is None


def test_decimal_exact_no_float_drift() -> None:
    book = PriceBook({"m": PriceOverride(input=Decimal(100), output=Decimal(0))})
    # 1000*100 = 100_000 -> $0.1; 2000*100 -> $0.2; 3000*100 -> $0.3
    costs = [book.cost(Usage(input_tokens=n), "m").usd for n in (1000, 2000, 3000)]
    assert costs == [Decimal("0.1"), Decimal("0.2"), Decimal("0.3")]
    first, second, third = (c for c in costs if c is not None)
    assert first + second == third  # 0.1 + 0.2 == 0.3 exactly (false in float)
    assert first + second + third == Decimal("0.6")
    assert 0.1 + 0.2 != 0.3  # the drift Decimal avoids


def test_three_calls_sum_exactly(book: PriceBook) -> None:
    # gpt-4o-mini: input $0.15, cached $0.075, output $0.6.
    # Each call: 1234 input (234 cached), 567 output:
    #   1000*0.15 + 234*0.075 + 567*0.6 = 150 + 17.55 + 340.2 = 507.75 -> $0.00050775
    usage = Usage(input_tokens=1234, cache_read_tokens=234, output_tokens=567)
    one = book.cost(usage, "gpt-4o-mini").usd
    assert one == Decimal("0.00050775")
    assert one is not None
    assert one + one + one == Decimal("0.00152325")
    combined = book.cost(usage + usage + usage, "gpt-4o-mini").usd
    assert combined == one + one + one
