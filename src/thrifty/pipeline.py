"""The one place where the stage order lives.

Library, gateway and CLI all call :func:`build_pipeline`; none holds pipeline logic.

    Ledger  -> Route -> Provider
    (outer)            (inner)

Later levers slot in between, in the order docs/architecture.md gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.config import Settings
from thrifty.dispatch import ProviderRegistry
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import Accountant, ledger_stage
from thrifty.levers.cheaper.routing import routing_stage
from thrifty.pricing import PriceBook
from thrifty.types import Handler, Stage


@dataclass(frozen=True, slots=True)
class Parts:
    """The long-lived resources the stages share (built and closed by the runtime)."""

    settings: Settings
    prices: PriceBook
    ledger: LedgerStore
    providers: ProviderRegistry


def compose(stages: Sequence[Stage], innermost: Handler) -> Handler:
    """``compose([a, b], h)`` is ``a(b(h))``: the first stage is the outermost."""
    handler = innermost
    for stage in reversed(stages):
        handler = stage(handler)
    return handler


def accountant_for(parts: Parts) -> Accountant:
    facts = {u.name: (u.price_provider, u.local) for u in parts.providers.upstreams}

    def upstream_of(model: str) -> tuple[str | None, bool] | None:
        upstream = parts.providers.find(model)
        return None if upstream is None else facts[upstream.name]

    return Accountant(parts.prices, upstream_of, facts.get)


def build_pipeline(parts: Parts) -> Handler:
    stages: list[Stage] = [
        ledger_stage(parts.ledger, accountant_for(parts)),
        routing_stage(parts.settings.routing),
    ]
    return compose(stages, parts.providers)
