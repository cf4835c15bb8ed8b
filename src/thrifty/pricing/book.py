"""The price book: user overrides, then the local $0 tier, then genai-prices."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from thrifty.config import PriceOverride
from thrifty.pricing.genai import find_model, load_providers, rates_from_genai
from thrifty.pricing.rates import ModelRates, compute_cost, zero_rates
from thrifty.types import UNPRICED, Cost, Usage

if TYPE_CHECKING:
    from genai_prices.types import Provider

MEMO_LIMIT = 10_000  # distinct (model, provider, local) keys kept; model names come from clients


def override_rates(name: str, override: PriceOverride, provider: str | None = None) -> ModelRates:
    """Rates from a user override; omitted cache rates default to the input rate (and a
    1h cache write to the 5m one when only that is given)."""
    write_5m = override.cache_write_5m if override.cache_write_5m is not None else override.input
    return ModelRates(
        model=name,
        provider=provider,
        input=override.input,
        output=override.output,
        cache_read=override.cache_read if override.cache_read is not None else override.input,
        cache_write_5m=write_5m,
        cache_write_1h=override.cache_write_1h if override.cache_write_1h is not None else write_5m,
        batch_discount=override.batch_discount,
        long_context_threshold=None,
        long_context=None,
        source="override",
    )


class PriceBook:
    """Looks up what a model costs and prices a call.

    Lookup order for :meth:`rates`:

    1. user ``overrides``: an exact key match first, then the glob keys (``fnmatch``,
       case-sensitive) in mapping order, first match wins;
    2. ``local=True``: all-zero rates, ``source="local"`` (a local model is $0 only because
       the configuration said so);
    3. genai-prices' bundled snapshot (loaded lazily on the first such lookup, never
       refreshed over the network), optionally restricted to a genai-prices ``provider``.

    Results, misses included, are memoised per ``(model, provider, local)``.  The memo is
    bounded (it is cleared when it reaches ``MEMO_LIMIT`` entries) because model names
    arrive from clients.
    """

    def __init__(self, overrides: Mapping[str, PriceOverride] | None = None) -> None:
        items = dict(overrides or {})
        self._exact = {name: override_rates(name, o) for name, o in items.items()}
        self._globs = [(name, rates) for name, rates in self._exact.items() if _is_glob(name)]
        self._memo: dict[tuple[str, str | None, bool], ModelRates | None] = {}
        self._providers: list[Provider] | None = None
        self._load_lock = threading.Lock()

    def rates(
        self, model: str, *, provider: str | None = None, local: bool = False
    ) -> ModelRates | None:
        """The rates for ``model``, or ``None`` if nobody knows its price."""
        key = (model, provider, local)
        try:
            return self._memo[key]
        except KeyError:
            pass
        rates = self._lookup(model, provider, local)
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = rates
        return rates

    def cost(
        self,
        usage: Usage,
        model: str,
        *,
        provider: str | None = None,
        local: bool = False,
        batch: bool = False,
    ) -> Cost:
        """What ``usage`` on ``model`` cost; :data:`~thrifty.types.UNPRICED` (``usd=None``)
        for a model without a known price, never $0."""
        rates = self.rates(model, provider=provider, local=local)
        if rates is None:
            return UNPRICED
        return Cost(usd=compute_cost(usage, rates, batch=batch), source=rates.source)

    def _lookup(self, model: str, provider: str | None, local: bool) -> ModelRates | None:
        if (exact := self._exact.get(model)) is not None:
            return _with_provider(exact, provider)
        for pattern, rates in self._globs:
            if fnmatchcase(model, pattern):
                return _with_provider(rates, provider)
        if local:
            return zero_rates(model, provider, "local")
        match = find_model(self._snapshot(), model, provider)
        if match is None:
            return None
        return rates_from_genai(*match)

    def _snapshot(self) -> list[Provider]:
        if self._providers is None:
            with self._load_lock:
                if self._providers is None:
                    self._providers = load_providers()
        return self._providers


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _with_provider(rates: ModelRates, provider: str | None) -> ModelRates:
    if rates.provider == provider:
        return rates
    return replace(rates, provider=provider)
