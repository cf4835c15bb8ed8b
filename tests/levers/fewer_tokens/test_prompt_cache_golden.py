"""What the planner's choices cost and save, in the ledger, against hand arithmetic.

The planner and the simulator read the same clock, so a prefix can come back every 15
minutes in a test that takes a second.  Each request goes through the ledger stage (the
Accountant on the bundled prices) and the planner to the simulator, which emulates
Anthropic's cache (5-minute and 1-hour entries) and validates every planned body.

Rates (USD per million tokens, genai-prices' bundled data): claude-sonnet-4-6 input 3,
5-minute cache write 3.75 (1.25x), 1-hour cache write 6 (2x), cache read 0.30 (0.1x).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.levers.fewer_tokens.prompt_cache_kit import COUNTER, anthropic_request
from thrifty.config import PromptCacheSettings
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.pipeline import compose
from thrifty.providers.usage import usage_from_anthropic
from thrifty.sim import SimConfig, create_app
from thrifty.testing import accountant, reply
from thrifty.types import ChatRequest, ChatResponse, Handler

M = Decimal(1_000_000)
INPUT, WRITE_5M, WRITE_1H, READ = Decimal(3), Decimal("3.75"), Decimal(6), Decimal("0.30")


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    clock: Clock
    handler: Handler
    store: LedgerStore

    async def ask(self, at: float) -> LedgerRow:
        self.clock.now = at
        await self.handler(anthropic_request(at=at))
        return self.store.rows()[-1]


def simulator(client: httpx.AsyncClient) -> Handler:
    async def send(request: ChatRequest) -> ChatResponse:
        answer = await client.post("/v1/messages", json=request.body, headers={"x-api-key": "k"})
        assert answer.status_code == 200, answer.text  # the simulator validates the plan
        return reply(request, "ok", usage_from_anthropic(answer.json()["usage"]))

    return send


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = Clock()
    transport = httpx.ASGITransport(app=create_app(SimConfig(), clock=clock))
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    planner = PromptCachePlanner({None: PromptCacheSettings(enabled=True)}, COUNTER)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            stages = [ledger_stage(store, accountant()), prompt_cache_stage(planner)]
            yield Rig(clock, compose(stages, simulator(client)), store)
    finally:
        await store.close()


def check_sums(row: LedgerRow) -> None:
    assert row.saved_usd == row.baseline_usd - row.cost_usd  # type: ignore[operator]
    assert row.baseline_usage is not None
    usage, base = row.usage, row.baseline_usage
    assert (base.cache_read_tokens, base.cache_write_tokens) == (0, 0)  # no planning: none
    assert base.input_tokens == usage.input_tokens  # the same prompt, all at the input rate


async def test_a_prefix_back_every_quarter_hour_is_written_for_1h_at_2x_then_read(
    rig: Rig,
) -> None:
    first, second, third, fourth = [await rig.ask(at) for at in (0.0, 900.0, 1800.0, 2700.0)]
    # seen once, then back after 15 minutes (a 5m entry would have expired): nothing yet
    for row in (first, second):
        assert row.savings == {} and row.usage.cache_write_tokens == 0
    # back twice: a 1h entry, its write 2x input, booked as a premium of 1x input
    written = third.usage.cache_write_1h_tokens
    assert written > 1024 and third.usage.cache_write_5m_tokens == 0
    assert third.savings == {"prompt_cache": -written * (WRITE_1H - INPUT) / M}
    assert third.cost_usd is not None and third.baseline_usd is not None
    assert third.baseline_usd - third.cost_usd == -written * (WRITE_1H - INPUT) / M
    # 15 minutes later the 1h entry is still alive: read at 0.1x
    assert fourth.usage.cache_read_tokens == written and fourth.usage.cache_write_tokens == 0
    assert fourth.savings == {"prompt_cache": written * (INPUT - READ) / M}
    for row in (third, fourth):
        check_sums(row)
    # over the four requests the 1h entry has already paid for itself...
    net = sum((r.saved_usd or Decimal(0)) for r in (first, second, third, fourth))
    assert net == written * (INPUT - READ - (WRITE_1H - INPUT)) / M < 0
    # ...from its second read on (2T + 0.1T + 0.1T against 3T): here, the fifth request
    fifth = await rig.ask(3600.0)
    assert fifth.savings == {"prompt_cache": written * (INPUT - READ) / M}
    assert net + fifth.savings["prompt_cache"] > 0


async def test_a_prefix_back_within_five_minutes_is_written_for_5m_at_1_25x(rig: Rig) -> None:
    first, second, third = [await rig.ask(at) for at in (0.0, 60.0, 120.0)]
    assert first.savings == {}
    written = second.usage.cache_write_5m_tokens
    assert written > 1024 and second.usage.cache_write_1h_tokens == 0
    assert second.savings == {"prompt_cache": -written * (WRITE_5M - INPUT) / M}
    assert third.usage.cache_read_tokens == written
    assert third.savings == {"prompt_cache": written * (INPUT - READ) / M}
    for row in (second, third):
        check_sums(row)
