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

Service tiers.  genai-prices represents OpenAI's (and Google's) service tiers the same way,
as variants with ``when={"service_tier": "priority"}`` (``"flex"``, ``"fast"``, and an
empty ``"default"`` one), most with a start date.  A tier is priced at the standard rates
with the tier variant's rates merged over them; a tier name the model has no variant for
(or whose variant has not started yet at the call's time) gets the standard rates.

Time.  Prices can depend on the call's time: ``ConditionalPrice`` entries with start dates
(o3's price cut on 2025-06-10), date-limited variants, and a few time-of-day prices
(DeepSeek's off-peak hours).  :class:`GenaiModel` collects a model's change dates once and
caches the converted rates per period (and per time-of-day window, per service tier), so
pricing a call at its own time costs one ``bisect`` and one dict lookup.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime
from datetime import time as day_time
from decimal import Decimal
from typing import TYPE_CHECKING

from thrifty.pricing.fees import GENAI_TOOL_KEYS, merge_fees
from thrifty.pricing.rates import ZERO, ModelRates, quantize_rate, with_derived_batch

if TYPE_CHECKING:
    from genai_prices.types import (
        ConditionalPrice,
        ModelInfo,
        ModelPrice,
        PriceVariant,
        Provider,
        TieredPrices,
        TimeOfDateConstraint,
    )

SOURCE = "genai-prices"
BATCH_CONTEXT = {"processing": "batch"}
FALLBACK_BATCH_DISCOUNT = {"openai": Decimal("0.5"), "anthropic": Decimal("0.5")}
TIER_KEY = "service_tier"

# A model id as an API takes it (genai-prices also lists match templates like "ft:gpt-4o").
_MODEL_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?")

# genai-prices price keys, in ModelRates field order.
_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")


def load_providers() -> list[Provider]:
    """The bundled provider list (imports the ~1.5 MB data module: call lazily, once)."""
    from genai_prices.data import providers

    return providers


def provider_model_ids(providers: Sequence[Provider], provider_id: str) -> tuple[str, ...]:
    """The ids of the models genai-prices prices for ``provider_id`` (its own models, not
    fallback ones), sorted: those with a token price at some time, not marked deprecated,
    and spelled as a model name (not a match template such as ``ft:gpt-4o`` or ``x-``).
    Empty for an unknown provider id.  What a model is used for (chat, embeddings, audio)
    is not filtered here."""
    from genai_prices.data_snapshot import find_provider_by_id

    found = find_provider_by_id(list(providers), provider_id)
    if found is None:
        return ()
    ids = {
        m.id
        for m in found.models
        if not m.deprecated
        and _MODEL_ID.fullmatch(m.id)
        and any(
            c.prices.input_mtok is not None or c.prices.output_mtok is not None
            for c in _conditional(m)
        )
    }
    return tuple(sorted(ids))


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


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class GenaiModel:
    """One genai-prices model, priced by time and service tier.

    ``change_dates`` are the UTC dates on which any of its prices (standard or variant)
    starts; rates are converted once per period between them (and per time-of-day window
    for the few models priced by the hour) and cached, so the cache stays small.
    """

    __slots__ = ("_cache", "_points", "_tods", "change_dates", "info", "own", "provider", "tiers")

    def __init__(self, provider: Provider, info: ModelInfo) -> None:
        from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

        self.provider = provider
        self.info = info
        # genai-prices only applies variants to a provider's own models, not fallback ones.
        self.own = any(info is m for m in provider.models)
        variants = self.variants()
        constraints = [c.constraint for c in _conditional(info)]
        constraints += [v.constraint for v in variants]
        dates = {c.start_date for c in constraints if isinstance(c, StartDateConstraint)}
        self.change_dates: tuple[date, ...] = tuple(sorted(dates))
        # Midnight UTC of each date, ascending: StartDateConstraint compares UTC dates.
        self._points = tuple(
            datetime.combine(d, day_time(), UTC).timestamp() for d in self.change_dates
        )
        self._tods: tuple[TimeOfDateConstraint, ...] = tuple(
            c for c in constraints if isinstance(c, TimeOfDateConstraint)
        )
        self.tiers: frozenset[str] = frozenset(
            v.when[TIER_KEY] for v in variants if set(v.when) == {TIER_KEY}
        )
        self._cache: dict[tuple[int, tuple[bool, ...], str | None], ModelRates | None] = {}

    def variants(self) -> Sequence[PriceVariant]:
        return (self.info.price_variants or ()) if self.own else ()

    def has_token_price(self) -> bool:
        """Whether any of its prices (at any time) is a token price."""
        return any(
            c.prices.input_mtok is not None or c.prices.output_mtok is not None
            for c in _conditional(self.info)
        )

    def rates(self, ts: float, service_tier: str | None = None) -> ModelRates | None:
        """The rates at unix time ``ts`` for ``service_tier`` (``None`` or a tier this
        model has no variant for: the standard rates)."""
        if service_tier is not None and service_tier not in self.tiers:
            service_tier = None
        period = bisect_right(self._points, ts)
        window = tuple(c.active(utc(ts)) for c in self._tods) if self._tods else ()
        key = (period, window, service_tier)
        try:
            return self._cache[key]
        except KeyError:
            pass
        rates = rates_from_genai(self.provider, self.info, utc(ts), service_tier=service_tier)
        self._cache[key] = rates
        return rates

    def tier_rates(self, ts: float) -> dict[str, ModelRates]:
        """Each service tier with rates of its own at ``ts`` (tiers whose variant states
        no price, like OpenAI's ``default``, or has not started, are left out)."""
        now = utc(ts)
        out: dict[str, ModelRates] = {}
        for tier in sorted(self.tiers):
            if _active_variant(self.info, now, {TIER_KEY: tier}):
                rates = self.rates(ts, tier)
                if rates is not None:
                    out[tier] = rates
        return out


def _conditional(info: ModelInfo) -> list[ConditionalPrice]:
    from genai_prices.types import ConditionalPrice, ModelPrice

    if isinstance(info.prices, ModelPrice):
        return [ConditionalPrice(prices=info.prices)]
    return list(info.prices)


def rates_from_genai(
    provider: Provider,
    info: ModelInfo,
    now: datetime | None = None,
    *,
    service_tier: str | None = None,
) -> ModelRates | None:
    """Convert a genai-prices model into :class:`ModelRates` at time ``now`` (default: the
    current time), with ``service_tier``'s variant rates when it has an active one; or
    ``None`` if it has no token price (e.g. priced per request/page/hour only, or an empty
    price list, which we refuse to read as "free")."""
    now = now or datetime.now(tz=UTC)
    plain = info.get_prices(now)
    if plain.input_mtok is None and plain.output_mtok is None:
        return None
    own_model = any(info is m for m in provider.models)
    tier_context = {TIER_KEY: service_tier} if service_tier is not None else None
    tier: str | None = None
    standard = plain
    if own_model and tier_context is not None and _active_variant(info, now, tier_context):
        standard = info.get_prices(now, tier_context)
        tier = service_tier
    batch: ModelRates | None = None
    discount = FALLBACK_BATCH_DISCOUNT.get(provider.id, ZERO)
    if own_model and _active_variant(info, now, BATCH_CONTEXT):
        # The source states the batch prices: use them, even if they are no discount.
        batch = _convert(info.id, provider.id, info.get_prices(now, BATCH_CONTEXT), ZERO, None)
        base_input = _at(plain.input_mtok, None) or ZERO
        discount = 1 - batch.input / base_input if base_input > 0 else ZERO
    rates = _convert(info.id, provider.id, standard, discount, batch, service_tier=tier)
    return with_derived_batch(rates)


def _active_variant(info: ModelInfo, now: datetime, when: dict[str, str]) -> bool:
    """Whether ``info`` has a variant for exactly ``when``, in force at ``now``, that
    states at least one price."""
    return any(
        v.when == when
        and (v.constraint is None or v.constraint.active(now))
        and any(p is not None for p in v.prices.__dict__.values())
        for v in info.price_variants or ()
    )


def _at(price: Decimal | TieredPrices | None, level: int | None) -> Decimal | None:
    """The price (rounded to six decimals) that applies when total input tokens are just
    above ``level`` (``None`` = below every tier)."""
    from genai_prices.types import TieredPrices

    if price is None:
        return None
    if not isinstance(price, TieredPrices):
        return quantize_rate(price)
    chosen = price.base
    if level is not None:
        for tier in price.tiers:  # sorted ascending by genai-prices
            if tier.start <= level:
                chosen = tier.price
    return quantize_rate(chosen)


def _tool_fees(prices: ModelPrice) -> dict[str, Decimal]:
    fees: dict[str, Decimal] = {}
    for kind, key in GENAI_TOOL_KEYS.items():
        value = _at(getattr(prices, key, None), None)
        if value is not None:
            fees[kind] = value
    return fees


def _convert(
    model: str,
    provider: str,
    prices: ModelPrice,
    batch_discount: Decimal,
    batch: ModelRates | None,
    *,
    service_tier: str | None = None,
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
            service_tier=service_tier,
            tool_fees=merge_fees(_tool_fees(prices), provider) if i == 0 else (),
        )
    assert rates is not None
    return rates
