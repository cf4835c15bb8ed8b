"""Per-model rates and the cost function.

Everything here is plain ``Decimal`` arithmetic on an immutable :class:`ModelRates`, so
:func:`compute_cost` is cheap enough for the gateway's hot path and exact (no ``float``).

Every rate a :class:`~thrifty.pricing.PriceBook` hands out has at most six decimals (USD per
million tokens, rounded once at load by :func:`quantize_rate`), so one token costs an exact
multiple of 1e-12 USD (one pico-dollar, the ledger's unit) and every cost is one too.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from thrifty.types import Usage

ZERO = Decimal(0)
PER = Decimal(1_000_000)  # rates are quoted in USD per million tokens
PER_TOOL_USES = Decimal(1000)  # server-tool fees are quoted in USD per 1,000 uses
RATE_QUANTUM = Decimal("0.000001")  # six decimals per million tokens = 1e-12 USD per token

_EXACT = decimal.Context(prec=60)

ServerTools = Iterable[tuple[str, int]] | Mapping[str, int]


def quantize_rate(value: Decimal) -> Decimal:
    """``value`` rounded to six decimals (half to even), e.g. genai-prices' float noise
    ``1.0399999999999998`` -> ``1.04``.  A value that already has six decimals or fewer is
    returned as is (so ``"0.30"`` keeps its spelling)."""
    if not value.is_finite():
        raise ValueError(f"a price must be a finite number, got {value}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -6:
        return value
    with decimal.localcontext(_EXACT):
        rounded = value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN).normalize()
        if rounded == rounded.to_integral_value():  # normalize() writes 10 as 1E+1
            rounded = rounded.quantize(Decimal(1))
    return rounded


@dataclass(frozen=True, slots=True)
class ModelRates:
    """What one model costs, in US dollars per MILLION tokens.

    ``cache_read`` / ``cache_write_5m`` / ``cache_write_1h`` are the rates for the parts of
    ``Usage.input_tokens`` that were read from / written to the prompt cache; the remaining
    (uncached) input is billed at ``input``.

    ``long_context`` holds the rates that apply to the *whole call* once
    ``Usage.input_tokens > long_context_threshold`` (the "cliff" model Anthropic and Google
    bill with).  It has the same shape; it has no further tier of its own except for a
    model with several tiers, where the tiers are chained in ascending threshold order.

    ``batch`` holds the Batch API rates: the source's own per-rate batch prices when it
    publishes them (genai-prices does, as a ``processing: batch`` price variant), otherwise
    (``batch_derived=True``) every rate with ``batch_discount`` taken off.  When it is
    ``None`` on rates built by hand, :func:`compute_cost` derives it the same way.

    ``service_tier`` names the provider service tier (OpenAI ``priority``, ``flex``...)
    whose own rates these are; ``None`` for the standard rates.  ``tool_fees`` are
    server-side tool fees, ``(kind, USD per 1,000 uses)`` pairs (``("web_search", 10)``).
    """

    model: str
    provider: str | None
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    batch_discount: Decimal
    long_context_threshold: int | None
    long_context: ModelRates | None
    source: str
    batch: ModelRates | None = None
    batch_derived: bool = False
    service_tier: str | None = None
    tool_fees: tuple[tuple[str, Decimal], ...] = ()

    def tier_for(self, input_tokens: int) -> ModelRates:
        """The rates that apply to a call with ``input_tokens`` prompt tokens in total."""
        rates = self
        while (
            rates.long_context is not None
            and rates.long_context_threshold is not None
            and input_tokens > rates.long_context_threshold
        ):
            rates = rates.long_context
        return rates

    def tool_fee(self, kind: str) -> Decimal | None:
        """USD per 1,000 uses of the server-side tool ``kind``, or ``None`` if unknown."""
        for name, fee in self.tool_fees:
            if name == kind:
                return fee
        return None

    def long_context_tiers(self) -> list[tuple[int, ModelRates]]:
        """The long-context tiers as ``(above_input_tokens, rates)``, ascending."""
        tiers: list[tuple[int, ModelRates]] = []
        level = self
        while level.long_context is not None and level.long_context_threshold is not None:
            tiers.append((level.long_context_threshold, level.long_context))
            level = level.long_context
        return tiers


def zero_rates(model: str, provider: str | None, source: str) -> ModelRates:
    """All-zero rates (a local model, priced at $0 by explicit configuration)."""
    return ModelRates(
        model=model,
        provider=provider,
        input=ZERO,
        output=ZERO,
        cache_read=ZERO,
        cache_write_5m=ZERO,
        cache_write_1h=ZERO,
        batch_discount=ZERO,
        long_context_threshold=None,
        long_context=None,
        source=source,
    )


def discounted(rates: ModelRates, discount: Decimal) -> ModelRates:
    """``rates`` (long-context tiers included) with ``discount`` taken off every rate,
    each rounded to six decimals: the Batch API rates of a source that only states a
    headline discount."""
    with decimal.localcontext(_EXACT):
        keep = 1 - discount

        def off(value: Decimal) -> Decimal:
            result = quantize_rate(value * keep)
            if result == result.to_integral_value():  # 2.5 x 2 is 5, not 5.0
                return result.quantize(Decimal(1))
            return result.normalize()

        return replace(
            rates,
            input=off(rates.input),
            output=off(rates.output),
            cache_read=off(rates.cache_read),
            cache_write_5m=off(rates.cache_write_5m),
            cache_write_1h=off(rates.cache_write_1h),
            batch_discount=ZERO,
            long_context=(
                None if rates.long_context is None else discounted(rates.long_context, discount)
            ),
            batch=None,
            batch_derived=False,
        )


def with_derived_batch(rates: ModelRates) -> ModelRates:
    """``rates`` with ``batch`` filled in from ``batch_discount`` when the source gave no
    per-rate batch prices (and the discount is not zero)."""
    if rates.batch is not None or not rates.batch_discount:
        return rates
    return replace(rates, batch=discounted(rates, rates.batch_discount), batch_derived=True)


def tool_uses(server_tools: ServerTools) -> Iterable[tuple[str, int]]:
    """``server_tools`` as ``(kind, count)`` pairs, whichever form it came in."""
    if isinstance(server_tools, Mapping):
        return server_tools.items()
    return server_tools


def compute_cost(
    usage: Usage, rates: ModelRates, *, batch: bool = False, server_tools: ServerTools = ()
) -> Decimal:
    """Exact US-dollar cost of ``usage`` (plus ``server_tools`` uses) at ``rates``.

    ``usage.input_tokens`` already includes the cached tokens, so each cached token is
    billed once, at its cache rate, and only ``uncached_input_tokens`` at the input rate.
    Server-tool uses are billed at ``rates.tool_fees`` (not discounted for batch); a kind
    without a known fee adds nothing.
    """
    token_rates = rates
    if batch:
        if rates.batch is not None:
            token_rates = rates.batch
        elif rates.batch_discount:
            token_rates = discounted(rates, rates.batch_discount)
    tier = token_rates.tier_for(usage.input_tokens)
    # Our own context: the caller's (possibly low) decimal precision must not round money.
    with decimal.localcontext(_EXACT):
        total = usage.uncached_input_tokens * tier.input + usage.output_tokens * tier.output
        # Most calls have no cache traffic: skip the zero terms (this is the hot path).
        if usage.cache_read_tokens:
            total += usage.cache_read_tokens * tier.cache_read
        if usage.cache_write_5m_tokens:
            total += usage.cache_write_5m_tokens * tier.cache_write_5m
        if usage.cache_write_1h_tokens:
            total += usage.cache_write_1h_tokens * tier.cache_write_1h
        total /= PER
        if server_tools and rates.tool_fees:
            for kind, count in tool_uses(server_tools):
                fee = rates.tool_fee(kind)
                if fee is not None and count:
                    total += count * fee / PER_TOOL_USES
        return +total
