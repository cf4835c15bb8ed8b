"""Shared by the cascade tests: a cascade stage over a FakeUpstream, with the real ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from thrifty.config import CascadeSettings
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.cheaper.cascade.plan import Plans, plan_for
from thrifty.levers.cheaper.cascade.stage import Upstreams, cascade_stage
from thrifty.levers.cheaper.routing import translatable
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect
from thrifty.types import ChatRequest, ChatResponse, Dialect, Handler

M = Decimal(1_000_000)
HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-1"


def usd(*terms: tuple[int, str]) -> Decimal:
    """Sum of tokens x rate-per-million."""
    return sum((tokens * Decimal(rate) for tokens, rate in terms), Decimal(0)) / M


def dialect_of(model: str) -> Dialect:
    return "anthropic" if model.startswith("claude") else "openai"


def provider_of(model: str) -> str:
    return "anthropic" if model.startswith("claude") else "openai"


UPSTREAMS = Upstreams(dialect_of, provider_of, translatable)


def plans(task: str = "impact", **settings: Any) -> Plans:
    settings.setdefault("tiers", (HAIKU, SONNET))
    plan = plan_for(task, CascadeSettings(**settings), lambda model: True)
    return Plans({task: plan}, None, frozenset())


async def open_store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    """For a test module's ``store`` fixture: a ledger in ``tmp_path``."""
    ledger = LedgerStore(tmp_path / "ledger.db")
    await ledger.open()
    yield ledger
    await ledger.close()


Answer = Callable[[ChatRequest], Any]


async def run(
    store: LedgerStore, cascade: Plans, answer: Answer, request: ChatRequest
) -> tuple[ChatResponse, LedgerRow, FakeUpstream, list[Any]]:
    """The request through ledger + cascade; the response, its row, the upstream and the
    streamed events (empty for a body)."""
    upstream = FakeUpstream(answer)
    handler: Handler = compose(
        [ledger_stage(store, accountant()), cascade_stage(cascade, UPSTREAMS)], upstream
    )
    response = await handler(request)
    events = await collect(response) if response.stream is not None else []
    (row,) = store.rows()
    return response, row, upstream, events


def check_sums(row: LedgerRow) -> None:
    assert row.cost_usd is not None and row.baseline_usd is not None
    assert row.saved_usd == row.baseline_usd - row.cost_usd
    assert sum(v for v in row.savings.values() if v is not None) == row.saved_usd
