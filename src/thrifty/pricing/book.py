"""The price book: user overrides, then the local $0 tier, then genai-prices."""

from __future__ import annotations

import decimal
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from thrifty.config import PriceOverride
from thrifty.pricing.fees import merge_fees
from thrifty.pricing.genai import GenaiModel, find_model, load_providers
from thrifty.pricing.rates import (
    ModelRates,
    ServerTools,
    compute_cost,
    quantize_rate,
    tool_uses,
    with_derived_batch,
    zero_rates,
)
from thrifty.types import UNPRICED, Call, Cost, Usage

if TYPE_CHECKING:
    from genai_prices.types import Provider

MEMO_LIMIT = 10_000  # distinct lookup keys kept; model names come from clients
_WARN_LIMIT = 100
_EXACT = decimal.Context(prec=60)

log = logging.getLogger("thrifty.pricing")

# What a name lookup resolves to: fixed rates (an override, local $0), a genai-prices model
# priced by time and service tier, or None (unpriced).
_Entry = ModelRates | GenaiModel | None
When = datetime | float | None


def override_rates(name: str, override: PriceOverride, provider: str | None = None) -> ModelRates:
    """Rates from a user override, every rate rounded to six decimals.

    Omitted cache rates default to the input rate (and a 1h cache write to the 5m one when
    only that is given).  Each long-context tier's omitted cache rates are the base cache
    rates scaled by ``tier.input / input`` (the tier's own input rate when the base input
    is $0); its omitted 1h write defaults to its 5m write when only that is given."""
    q = quantize_rate
    base_read = override.cache_read if override.cache_read is not None else override.input
    base_5m = override.cache_write_5m if override.cache_write_5m is not None else override.input
    base_1h = override.cache_write_1h if override.cache_write_1h is not None else base_5m
    levels: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]] = [
        (override.input, override.output, base_read, base_5m, base_1h)
    ]
    for tier in override.tiers:

        def scaled(
            explicit: Decimal | None, base: Decimal, tier: PriceOverride.Tier = tier
        ) -> Decimal:
            if explicit is not None:
                return explicit
            if override.input > 0:
                with decimal.localcontext(_EXACT):  # not the caller's precision
                    return base * tier.input / override.input
            return tier.input

        write_5m = scaled(tier.cache_write_5m, base_5m)
        if tier.cache_write_1h is not None:
            write_1h = tier.cache_write_1h
        elif tier.cache_write_5m is not None:
            write_1h = tier.cache_write_5m
        else:
            write_1h = scaled(None, base_1h)
        levels.append(
            (tier.input, tier.output, scaled(tier.cache_read, base_read), write_5m, write_1h)
        )
    thresholds = [t.above_input_tokens for t in override.tiers]
    fees = {
        kind: fee
        for kind, fee in (
            ("web_search", override.web_search_per_1k),
            ("file_search", override.file_search_per_1k),
        )
        if fee is not None
    }
    rates: ModelRates | None = None
    for i in range(len(levels) - 1, -1, -1):
        inp, out, read, write_5m, write_1h = levels[i]
        rates = ModelRates(
            model=name,
            provider=provider,
            input=q(inp),
            output=q(out),
            cache_read=q(read),
            cache_write_5m=q(write_5m),
            cache_write_1h=q(write_1h),
            batch_discount=override.batch_discount if i == 0 else Decimal(0),
            long_context_threshold=thresholds[i] if i < len(thresholds) else None,
            long_context=rates,
            source="override",
            tool_fees=merge_fees(fees, provider) if i == 0 else (),
        )
    assert rates is not None
    return with_derived_batch(rates)


def timestamp(at: When) -> float:
    """Unix seconds for ``at``: a datetime (naive = UTC), unix seconds, or ``None`` (now)."""
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
    return float(at)


class PriceBook:
    """Looks up what a model costs and prices a call.

    Lookup order for :meth:`rates` (and, for each of a call's names, :meth:`price_call`):

    1. user ``overrides``: an exact key match first, then the glob keys (``fnmatch``,
       case-sensitive) in mapping order, first match wins;
    2. ``local=True``: all-zero rates, ``source="local"`` (a local model is $0 only because
       the configuration said so);
    3. genai-prices' bundled snapshot (loaded lazily on the first such lookup, never
       refreshed over the network), optionally restricted to a genai-prices ``provider``.
       Its prices are resolved for the call's time (``at``, default now) and service tier.

    Name lookups, misses included, are memoised per ``(names, provider, local)``; a
    genai-prices model caches its converted rates per price period and service tier, so a
    long-running process picks up a dated price change on its date.  The memo is bounded
    (it is cleared when it reaches ``MEMO_LIMIT`` entries) because model names arrive from
    clients.
    """

    def __init__(self, overrides: Mapping[str, PriceOverride] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._globs = [(name, o) for name, o in self._overrides.items() if _is_glob(name)]
        self._memo: dict[tuple[tuple[str, ...], str | None, bool], _Entry] = {}
        self._providers: list[Provider] | None = None
        self._load_lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()

    # -- rates ---------------------------------------------------------------------------

    def rates(
        self,
        model: str,
        *,
        provider: str | None = None,
        local: bool = False,
        service_tier: str | None = None,
        at: When = None,
    ) -> ModelRates | None:
        """The rates for ``model`` at time ``at`` (default now) and ``service_tier``
        (``None``, an unknown tier, or a model without tier prices: the standard rates),
        or ``None`` if nobody knows its price."""
        return _resolve(self._entry((model,), provider, local), service_tier, at)

    def service_tiers(
        self, model: str, *, provider: str | None = None, local: bool = False, at: When = None
    ) -> dict[str, ModelRates]:
        """The service tiers that have rates of their own for ``model`` at ``at``, by name
        (empty for overrides, local models and models without tier prices)."""
        entry = self._entry((model,), provider, local)
        return entry.tier_rates(timestamp(at)) if isinstance(entry, GenaiModel) else {}

    def price_changes(
        self, model: str, *, provider: str | None = None, local: bool = False
    ) -> tuple[date, ...]:
        """The dates (UTC) on which one of ``model``'s genai-prices prices changes."""
        entry = self._entry((model,), provider, local)
        return entry.change_dates if isinstance(entry, GenaiModel) else ()

    # -- costs ---------------------------------------------------------------------------

    def cost(
        self,
        usage: Usage,
        model: str,
        *,
        provider: str | None = None,
        local: bool = False,
        batch: bool = False,
        service_tier: str | None = None,
        server_tools: ServerTools = (),
        at: When = None,
    ) -> Cost:
        """What ``usage`` (and ``server_tools`` uses, ``(kind, count)`` pairs or a mapping)
        on ``model`` cost at time ``at`` (datetime or unix seconds; default now);
        :data:`~thrifty.types.UNPRICED` (``usd=None``) for a model without a known price,
        never $0."""
        rates = _resolve(self._entry((model,), provider, local), service_tier, at)
        return self._price(usage, rates, batch, server_tools)

    def price_call(self, call: Call, *, provider: str | None, local: bool) -> Cost:
        """What one billed upstream :class:`~thrifty.types.Call` cost.

        Names tried: ``call.model`` (what the upstream reported) and ``call.sent_model``
        (what thrifty sent, when different), in this order: an exact override for either,
        then a glob override for either, then ``local``, then genai-prices for
        ``call.model``, then for ``call.sent_model``.  So ``[prices."gpt-4.1"]`` prices a
        call answered as ``gpt-4.1-2025-04-14``.  Uses the call's ``service_tier``,
        ``batch``, ``server_tools`` and time ``at``.  ``provider`` is the genai-prices
        provider id; ``local`` a configured $0 local server.  Unpriced: ``UNPRICED``."""
        sent = call.sent_model
        names = (call.model,) if not sent or sent == call.model else (call.model, sent)
        rates = _resolve(self._entry(names, provider, local), call.service_tier, call.at)
        return self._price(call.usage, rates, call.batch, call.server_tools)

    def _price(
        self, usage: Usage, rates: ModelRates | None, batch: bool, server_tools: ServerTools
    ) -> Cost:
        if rates is None:
            return UNPRICED
        if server_tools:
            self._warn_unknown_tools(rates, server_tools)
        usd = compute_cost(usage, rates, batch=batch, server_tools=server_tools)
        return Cost(usd=usd, source=rates.source)

    def _warn_unknown_tools(self, rates: ModelRates, server_tools: ServerTools) -> None:
        if rates.source == "local":
            return
        for kind, count in tool_uses(server_tools):
            if count and rates.tool_fee(kind) is None:
                key = (rates.model, kind)
                if key not in self._warned and len(self._warned) < _WARN_LIMIT:
                    self._warned.add(key)
                    log.warning(
                        "no known fee for server tool %r on %s: its uses are not charged "
                        "(set %s_per_1k in [prices.%r] if it has one)",
                        kind,
                        rates.model,
                        kind,
                        rates.model,
                    )

    # -- lookup --------------------------------------------------------------------------

    def _entry(self, names: tuple[str, ...], provider: str | None, local: bool) -> _Entry:
        key = (names, provider, local)
        try:
            return self._memo[key]
        except KeyError:
            pass
        entry = self._lookup(names, provider, local)
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = entry
        return entry

    def _lookup(self, names: tuple[str, ...], provider: str | None, local: bool) -> _Entry:
        for name in names:
            if (exact := self._overrides.get(name)) is not None:
                return override_rates(name, exact, provider)
        for name in names:
            for pattern, override in self._globs:
                if fnmatchcase(name, pattern):
                    return override_rates(pattern, override, provider)
        if local:
            return zero_rates(names[0], provider, "local")
        for name in names:
            match = find_model(self._snapshot(), name, provider)
            if match is not None:
                model = GenaiModel(*match)
                if model.has_token_price():
                    return model
        return None

    def _snapshot(self) -> list[Provider]:
        if self._providers is None:
            with self._load_lock:
                if self._providers is None:
                    self._providers = load_providers()
        return self._providers


def _resolve(entry: _Entry, service_tier: str | None, at: When) -> ModelRates | None:
    if not isinstance(entry, GenaiModel):
        return entry  # fixed rates (override, local) or None (unpriced)
    tier = service_tier.lower() if service_tier else None
    return entry.rates(time.time() if at is None else timestamp(at), tier)


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")
