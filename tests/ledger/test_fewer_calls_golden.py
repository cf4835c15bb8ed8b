"""Coalescing, idempotency and debounce, priced by hand: the rows the real ledger stage
writes for each outcome match hand arithmetic.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
claude-sonnet-4-6 3 / 15.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.streams.fakes import ESTIMATED_USAGE, batch, complete, streamed
from thrifty.errors import IdempotencyKeyReused, Superseded
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_calls.coalesce import coalesce_stage
from thrifty.levers.fewer_calls.debounce import debounce_stage
from thrifty.levers.fewer_calls.idempotency import Keeper, idempotency_stage
from thrifty.pipeline import compose
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Usage

M = Decimal(1_000_000)
TIMEOUT = 5
CALL = Usage(input_tokens=1000, output_tokens=200)
GPT4O_CALL = (1000 * Decimal("2.5") + 200 * Decimal(10)) / M  # $0.0045
SONNET_CALL = (1000 * Decimal(3) + 200 * Decimal(15)) / M  # $0.006


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    ledger = LedgerStore(tmp_path / "ledger.db")
    await ledger.open()
    yield ledger
    await ledger.close()


def booked(store: LedgerStore, lever: Stage, upstream: Handler) -> Handler:
    return compose([ledger_stage(store, accountant()), lever], upstream)


def check_sums(row: LedgerRow) -> None:
    assert row.cost_usd is not None and row.baseline_usd is not None
    assert row.saved_usd == row.baseline_usd - row.cost_usd
    assert sum(v for v in row.savings.values() if v is not None) == row.saved_usd


def gated(answer: Handler) -> tuple[asyncio.Event, FakeUpstream]:
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> ChatResponse:
        await gate.wait()
        return await answer(request)

    return gate, FakeUpstream(slow)


async def test_coalesced_requests_book_one_call_and_save_the_rest(store: LedgerStore) -> None:
    async def answer(request: ChatRequest) -> ChatResponse:
        return reply(request, "shared", CALL)

    gate, upstream = gated(answer)
    handle = booked(store, coalesce_stage({None: "deterministic"}), upstream)
    tasks = [asyncio.create_task(handle(request_for("gpt-4o", temperature=0))) for _ in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    rows = store.rows()
    assert Decimal("0.0045") == GPT4O_CALL
    paid = [r for r in rows if r.calls]
    assert len(paid) == 1 and paid[0].cost_usd == GPT4O_CALL and paid[0].savings == {}
    for row in rows:
        check_sums(row)
        if row is not paid[0]:
            assert row.cost_usd == 0 and row.price_source == "none"
            assert row.baseline_usd == GPT4O_CALL and row.baseline_usage == CALL
            assert row.savings == {"coalesce": GPT4O_CALL}
    assert sum(r.saved_usd or 0 for r in rows) == 2 * GPT4O_CALL  # $0.009 for 3 requests


async def test_a_payer_that_leaves_mid_stream_hands_the_bill_over(store: LedgerStore) -> None:
    gate = asyncio.Event()

    async def answer(request: ChatRequest) -> ChatResponse:
        response, _ = streamed([batch("a"), gate, batch("b"), complete], model="gpt-4o")
        response.served = request
        return response

    answered, upstream = gated(answer)
    handle = booked(store, coalesce_stage({None: "deterministic"}), upstream)
    request = request_for("gpt-4o", temperature=0, stream=True)
    first = asyncio.create_task(handle(request))
    await asyncio.sleep(0.01)  # the first request is the payer: it came first
    second = asyncio.create_task(handle(dataclasses.replace(request, request_id="heir")))
    await asyncio.sleep(0.01)
    answered.set()
    payer, heir = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    assert payer.stream is not None and heir.stream is not None
    await payer.stream.__anext__()  # type: ignore[attr-defined]
    await heir.stream.__anext__()  # type: ignore[attr-defined]
    await payer.stream.aclose()  # type: ignore[attr-defined]  # the payer's app hung up
    gate.set()
    await asyncio.wait_for(collect(heir), TIMEOUT)
    left, paid = sorted(store.rows(), key=lambda r: r.status, reverse=True)
    # FINAL_USAGE of the fake stream: 120 in (100 of them cache reads) / 30 out.
    final = (20 * Decimal("2.5") + 100 * Decimal("1.25") + 30 * Decimal(10)) / M
    assert paid.request_id == "heir" and paid.status == 200
    assert paid.cost_usd == final and paid.savings == {}
    assert left.status == 499 and left.failure == "client_left"
    assert left.cost_usd == 0 and left.calls == ()


async def test_an_idempotent_replay_costs_nothing_and_saves_the_call(store: LedgerStore) -> None:
    upstream = FakeUpstream(lambda req: reply(req, "done", CALL))
    handle = booked(store, idempotency_stage(Keeper(MemoryCache()), {None: 60.0}), upstream)
    request = request_for("claude-sonnet-4-6", dialect="anthropic")
    request = dataclasses.replace(request, metadata={"idempotency_key": "k"})
    await handle(request)
    await handle(dataclasses.replace(request, request_id="again"))
    with pytest.raises(IdempotencyKeyReused):
        other = {**request.body, "max_tokens": 9}
        await handle(dataclasses.replace(request, body=other, request_id="other"))
    first, again, conflict = store.rows()
    assert Decimal("0.006") == SONNET_CALL
    assert first.cost_usd == SONNET_CALL
    assert again.cost_usd == 0 and again.baseline_usd == SONNET_CALL
    assert again.savings == {"idempotency": SONNET_CALL} and again.detail == "replay"
    check_sums(again)
    assert conflict.status == 409 and conflict.failure == "idempotency_conflict"
    assert conflict.cost_usd == 0 and conflict.error is not None
    assert len(upstream.requests) == 1


async def test_superseded_requests_book_what_they_cost(store: LedgerStore) -> None:
    async def answer(request: ChatRequest) -> ChatResponse:
        return reply(request, "done", CALL)

    gate, upstream = gated(answer)
    key = {"debounce_key": "box"}

    def typed(text: str, wait: bool) -> ChatRequest:
        request = request_for("gpt-4o", text, task="wait" if wait else None)
        return dataclasses.replace(request, metadata=key)

    handle = booked(store, debounce_stage({None: 0.0, "wait": 10.0}), upstream)
    waiting = asyncio.create_task(handle(typed("before any call", wait=True)))
    await asyncio.sleep(0.01)
    calling = asyncio.create_task(handle(typed("called", wait=False)))
    await asyncio.sleep(0.01)
    last = asyncio.create_task(handle(typed("last", wait=False)))
    await asyncio.sleep(0.01)
    gate.set()
    for superseded in (waiting, calling):
        with pytest.raises(Superseded):
            await asyncio.wait_for(superseded, TIMEOUT)
    await asyncio.wait_for(last, TIMEOUT)
    never, cancelled, answered = store.rows()
    assert never.failure == "superseded" and never.status == 409
    assert never.cost_usd == 0  # superseded while it waited: no call
    assert cancelled.failure == "superseded" and cancelled.status == 409
    assert cancelled.cost_usd is None  # its call was cut while the provider worked: unknown
    assert answered.cost_usd == GPT4O_CALL and answered.failure is None


async def test_a_superseded_stream_books_what_it_consumed(store: LedgerStore) -> None:
    gates: list[asyncio.Event] = []

    def answer(request: ChatRequest) -> ChatResponse:
        gates.append(gate := asyncio.Event())
        response, _ = streamed([batch("a"), gate, batch("b"), complete], model="gpt-4o")
        response.served = request
        return response

    handle = booked(store, debounce_stage({None: 0.0}), FakeUpstream(answer))
    request = dataclasses.replace(
        request_for("gpt-4o", stream=True), metadata={"debounce_key": "box"}
    )
    older = await handle(request)
    assert older.stream is not None
    await older.stream.__anext__()  # type: ignore[attr-defined]
    newer = await handle(dataclasses.replace(request, request_id="newer"))
    with pytest.raises(Superseded):
        await asyncio.wait_for(collect(older), TIMEOUT)
    gates[1].set()
    await asyncio.wait_for(collect(newer), TIMEOUT)
    cut = next(r for r in store.rows() if r.failure == "superseded")
    estimate = (ESTIMATED_USAGE.input_tokens * Decimal("2.5") + 7 * Decimal(10)) / M
    assert estimate == Decimal("0.00037")  # 120 in / 7 out, estimated when it was cut
    assert cut.status == 200 and cut.cost_usd == estimate and cut.cost_estimated
