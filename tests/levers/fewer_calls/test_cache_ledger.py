"""What the ledger books for the exact cache, priced by hand: a miss is an ordinary call,
a hit costs $0 and saves the stored call's baseline on the requested model.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 1.25 cache
read / 10 out; claude-sonnet-4-6 3 in / 0.30 cache read / 15 out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_calls.cache import ExactCache
from thrifty.levers.fewer_calls.cache_policy import policies_for
from thrifty.pipeline import compose
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

M = Decimal(1_000_000)
STORED = Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=400)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    ledger = LedgerStore(tmp_path / "ledger.db")
    await ledger.open()
    yield ledger
    await ledger.close()


def answer(request: ChatRequest) -> ChatResponse:
    if request.stream:
        return stream_reply(request, ("cached ", "answer"), STORED)
    return reply(request, "cached answer", STORED)


def pipeline(store: LedgerStore) -> tuple[Handler, FakeUpstream]:
    upstream = FakeUpstream(answer)
    stages = [
        ledger_stage(store, accountant()),
        ExactCache(MemoryCache(), policies_for(Settings())),
    ]
    return compose(stages, upstream), upstream


async def ask(handler: Handler, model: str, dialect: Any, stream: bool) -> ChatResponse:
    response = await handler(
        request_for(model, "q", dialect=dialect, stream=stream, temperature=0, task="faq")
    )
    if response.stream is not None:
        await collect(response)
    return response


@pytest.mark.parametrize(
    ("model", "dialect", "rates"),
    [
        ("gpt-4o", "openai", ("2.5", "1.25", "10")),
        ("claude-sonnet-4-6", "anthropic", ("3", "0.3", "15")),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_hit_costs_nothing_and_saves_the_stored_calls_baseline(
    store: LedgerStore, model: str, dialect: Any, rates: tuple[str, str, str], stream: bool
) -> None:
    handler, upstream = pipeline(store)
    miss = await ask(handler, model, dialect, stream)
    hit = await ask(handler, model, dialect, stream)
    assert len(upstream.requests) == 1
    plain, read, out = (Decimal(r) for r in rates)
    baseline = (600 * plain + 400 * read + 200 * out) / M
    miss_row, hit_row = store.rows()
    assert miss_row.cost_usd == miss_row.baseline_usd == baseline
    assert miss_row.savings == {} and miss_row.saved_usd == 0
    assert hit_row.cost_usd == 0 and hit_row.calls == () and hit_row.price_source == "none"
    assert hit_row.baseline_usd == baseline and hit_row.baseline_usage is not None
    # the ledger keeps the baseline's input and output counts
    assert (hit_row.baseline_usage.input_tokens, hit_row.baseline_usage.output_tokens) == (
        1000,
        200,
    )
    assert hit_row.savings == {"cache": baseline} and hit_row.saved_usd == baseline
    assert hit_row.provider == "cache" and hit_row.model == model and hit_row.task == "faq"
    assert hit_row.stream is stream and hit_row.status == 200
    assert hit_row.detail == "cache: hit"
    assert hit.saved == baseline and miss.saved == 0


async def test_gpt4o_figures_by_hand(store: LedgerStore) -> None:
    handler, _ = pipeline(store)
    await ask(handler, "gpt-4o", "openai", False)
    await ask(handler, "gpt-4o", "openai", False)
    _, hit = store.rows()
    # 600 plain x 2.50 + 400 cache reads x 1.25 + 200 out x 10, per million
    assert hit.saved_usd == Decimal("0.0015") + Decimal("0.0005") + Decimal("0.002")
