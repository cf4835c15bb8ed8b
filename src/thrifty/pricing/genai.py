"""Reading rates out of genai-prices' bundled snapshot.

Only the data bundled in the installed wheel is used: ``genai_prices.data.providers``, the
same list ``genai_prices.data_snapshot._bundled_snapshot()`` wraps.  Nothing here touches
``UpdatePrices`` (the only part of genai-prices that fetches over HTTP, and only once
started) or the process-wide ``set_custom_snapshot`` / ``get_snapshot`` state.  Model and
provider matching goes through genai-prices' own public helpers (``find_provider_by_id``,
``Provider.find_model``, ``MatchLogic.is_match``), reimplementing only the small provider
inference loop of ``DataSnapshot.find_provider``: the snapshot object's lookup caches grow
with every distinct (even unknown) model name, which a gateway must not allow.

Batch discounts.  genai-prices represents Batch API pricing as a ``PriceVariant`` with
``when={"processing": "batch"}``: a full set of per-rate batch prices (input, output, cache
read/write, each possibly tiered), merged key by key over the standard prices, some with a
start date.  Where a model has an active batch variant we use those exact rates
(``ModelRates.batch``) and report ``batch_discount`` as the headline input discount
(``1 - batch_input / input``).  The per-rate form matters: for some models the cache rates
do not take the batch discount (OpenAI gpt-4o's cached input, Gemini context caching),
so one fraction applied to the total would under-charge.  Where a model has no batch
variant, we fall back to the documented public Batch API discount: 50% for the providers
``openai`` and ``anthropic`` (both publish "50% off" batch pricing), 0 for everyone else
(we do not know, so we do not claim a saving).

Time-dependent prices (``ConditionalPrice`` with start dates, date-limited variants) are
resolved once, at the moment a :class:`~thrifty.pricing.PriceBook` first looks a model up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from thrifty.pricing.rates import ZERO, ModelRates

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, Provider, TieredPrices

SOURCE = "genai-prices"
BATCH_CONTEXT = {"processing": "batch"}
FALLBACK_BATCH_DISCOUNT = {"openai": Decimal("0.5"), "anthropic": Decimal("0.5")}

# genai-prices price keys, in ModelRates field order.
_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")


def load_providers() -> list[Provider]:
    """The bundled provider list (imports the ~1.5 MB data module: call lazily, once)."""
    from genai_prices.data import providers

    return providers


def find_model(
    providers: Sequence[Provider], model: str, provider_id: str | None
) -> tuple[Provider, ModelInfo] | None:
    """Match ``model`` (and optionally a genai-prices provider id) like ``calc_price`` does."""
    from genai_prices.data_snapshot import find_provider_by_id

    ref = model.lower()
    all_providers = list(providers)
    if provider_id is not None:
        found = find_provider_by_id(all_providers, provider_id)
        if found is None:
            return None
    else:
        found = next(
            (p for p in providers if p.model_match is not None and p.model_match.is_match(ref)),
            None,
        )
        if found is None:
            return None
    info = found.find_model(ref, all_providers=all_providers)
    return None if info is None else (found, info)


def rates_from_genai(
    provider: Provider, info: ModelInfo, now: datetime | None = None
) -> ModelRates | None:
    """Convert a genai-prices model into :class:`ModelRates`, or ``None`` if it has no token
    price (e.g. priced per request/page/hour only, or an empty price list, which we refuse
    to read as "free")."""
    now = now or datetime.now(tz=UTC)
    standard = info.get_prices(now)
    if standard.input_mtok is None and standard.output_mtok is None:
        return None
    batch: ModelRates | None = None
    discount = FALLBACK_BATCH_DISCOUNT.get(provider.id, ZERO)
    # genai-prices only applies variants to a provider's own models, not fallback ones.
    own_model = any(info is m for m in provider.models)
    if own_model and _has_batch_variant(info, now):
        # The source states the batch prices: use them, even if they are no discount.
        batch = _convert(info.id, provider.id, info.get_prices(now, BATCH_CONTEXT), ZERO, None)
        base_input = _base(standard.input_mtok)
        discount = 1 - batch.input / base_input if base_input > 0 else ZERO
    return _convert(info.id, provider.id, standard, discount, batch)


def _has_batch_variant(info: ModelInfo, now: datetime) -> bool:
    return any(
        v.when == BATCH_CONTEXT and (v.constraint is None or v.constraint.active(now))
        for v in info.price_variants or ()
    )


def _base(price: Decimal | TieredPrices | None) -> Decimal:
    from genai_prices.types import TieredPrices

    if price is None:
        return ZERO
    return price.base if isinstance(price, TieredPrices) else price


def _at(price: Decimal | TieredPrices | None, level: int | None) -> Decimal | None:
    """The price that applies when total input tokens are just above ``level``
    (``None`` = below every tier)."""
    from genai_prices.types import TieredPrices

    if not isinstance(price, TieredPrices):
        return price
    chosen = price.base
    if level is not None:
        for tier in price.tiers:  # sorted ascending by genai-prices
            if tier.start <= level:
                chosen = tier.price
    return chosen


def _convert(
    model: str,
    provider: str,
    prices: ModelPrice,
    batch_discount: Decimal,
    batch: ModelRates | None,
) -> ModelRates:
    from genai_prices.types import TieredPrices

    values: list[Decimal | TieredPrices | None] = [getattr(prices, key) for key in _KEYS]
    thresholds = sorted({t.start for v in values if isinstance(v, TieredPrices) for t in v.tiers})
    levels: list[int | None] = [None, *thresholds]
    rates: ModelRates | None = None
    # Build from the highest tier down so each level can point at the next one.
    for i in range(len(levels) - 1, -1, -1):
        level = levels[i]
        inp, out, read, write, write_1h = (_at(v, level) for v in values)
        inp = inp if inp is not None else ZERO
        write_5m = write if write is not None else inp
        rates = ModelRates(
            model=model,
            provider=provider,
            input=inp,
            output=out if out is not None else ZERO,
            cache_read=read if read is not None else inp,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h if write_1h is not None else write_5m,
            batch_discount=batch_discount if i == 0 else ZERO,
            long_context_threshold=thresholds[i] if i < len(thresholds) else None,
            long_context=rates,
            source=SOURCE,
            batch=batch if i == 0 else None,
        )
    assert rates is not None
    return rates
