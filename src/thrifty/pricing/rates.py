"""Per-model rates and the cost function.

Everything here is plain ``Decimal`` arithmetic on an immutable :class:`ModelRates`, so
:func:`compute_cost` is cheap enough for the gateway's hot path and exact (no ``float``).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

from thrifty.types import Usage

ZERO = Decimal(0)
PER = Decimal(1_000_000)  # rates are quoted in USD per million tokens


@dataclass(frozen=True, slots=True)
class ModelRates:
    """What one model costs, in US dollars per MILLION tokens.

    ``cache_read`` / ``cache_write_5m`` / ``cache_write_1h`` are the rates for the parts of
    ``Usage.input_tokens`` that were read from / written to the prompt cache; the remaining
    (uncached) input is billed at ``input``.

    ``long_context`` holds the rates that apply to the *whole call* once
    ``Usage.input_tokens > long_context_threshold`` (the "cliff" model Anthropic and Google
    bill with).  It has the same shape; it has no further tier of its own except for the
    rare model with several tiers (two OpenRouter Qwen models in the genai-prices
    snapshot), where the tiers are chained in ascending threshold order.

    ``batch`` (an addition to the original interface) holds the exact Batch API rates when
    the price source publishes them per rate (genai-prices does, as a ``processing: batch``
    price variant).  When it is ``None``, a Batch API call costs
    ``(1 - batch_discount) x`` the standard cost.
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


_EXACT = decimal.Context(prec=60)


def compute_cost(usage: Usage, rates: ModelRates, *, batch: bool = False) -> Decimal:
    """Exact US-dollar cost of ``usage`` at ``rates``.

    ``usage.input_tokens`` already includes the cached tokens, so each cached token is
    billed once, at its cache rate, and only ``uncached_input_tokens`` at the input rate.
    """
    discount = ZERO
    if batch:
        if rates.batch is not None:
            rates = rates.batch
        else:
            discount = rates.batch_discount
    tier = rates.tier_for(usage.input_tokens)
    # Our own context: the caller's (possibly low) decimal precision must not round money.
    with decimal.localcontext(_EXACT):
        total = (
            usage.uncached_input_tokens * tier.input
            + usage.cache_read_tokens * tier.cache_read
            + usage.cache_write_5m_tokens * tier.cache_write_5m
            + usage.cache_write_1h_tokens * tier.cache_write_1h
            + usage.output_tokens * tier.output
        ) / PER
        if discount:
            total *= 1 - discount
        return +total
