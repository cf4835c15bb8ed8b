"""Ledger v2, priced by hand: a cache hit, a compression, a two-call cascade and a
batch-priced call each produce a ledger row whose cost, baseline and per-lever savings
match hand arithmetic.  The levers are stand-ins built with the test kit; what is checked
is the row the real ledger stage and store write.

Rates (USD per million tokens, genai-prices' bundled data, checked with `thrifty prices`):
gpt-4o 2.50 in / 10 out (batch 1.25 / 5); gpt-4o-mini 0.15 / 0.60;
claude-haiku-4-5 1 / 5; claude-sonnet-4-6 3 / 15 (cache write 5m 3.75);
text-embedding-3-small 0.02 in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.errors import StreamInterrupted
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import Call, ChatRequest, ChatResponse, Handler, Stage, Step, TokenChange, Usage

M = Decimal(1_000_000)


def usd(*terms: tuple[int, str]) -> Decimal:
    """Sum of tokens x rate-per-million."""
    return sum((tokens * Decimal(rate) for tokens, rate in terms), Decimal(0)) / M


@pytest.fixture
async def store(tmp_path: Path) -> LedgerStore:
    ledger = LedgerStore(tmp_path / "ledger.db")
    await ledger.open()
    yield ledger  # type: ignore[misc]
    await ledger.close()


async def run(
    store: LedgerStore, stages: list[Stage], upstream: Handler, request: ChatRequest
) -> tuple[ChatResponse, LedgerRow]:
    handler = compose([ledger_stage(store, accountant()), *stages], upstream)
    response = await handler(request)
    if response.stream is not None:
        await collect(response)
    (row,) = store.rows()
    return response, row


def check_sums(row: LedgerRow) -> None:
    """The invariant every priced row keeps: shares sum to baseline - actual."""
    assert row.cost_usd is not None and row.baseline_usd is not None
    assert row.saved_usd == row.baseline_usd - row.cost_usd
    assert sum(v for v in row.savings.values() if v is not None) == row.saved_usd


def stage(fn: Callable[[Handler, ChatRequest], object]) -> Stage:
    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            return await fn(inner, request)  # type: ignore[misc, no-any-return]

        return handle

    return wrap


STORED = Usage(input_tokens=1000, output_tokens=200)


async def test_cache_hit_costs_nothing_and_saves_the_stored_call(store: LedgerStore) -> None:
    async def hit(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = reply(request, "cached", STORED)
        response.served = None  # no provider was called
        response.provider = "thrifty-cache"
        response.steps.append(Step(lever="memo", detail="exact hit", avoided=STORED))
        return response

    upstream = FakeUpstream()
    response, row = await run(store, [stage(hit)], upstream, request_for("gpt-4o"))
    assert upstream.requests == []
    baseline = usd((1000, "2.5"), (200, "10"))  # $0.0045
    assert baseline == Decimal("0.0045")
    assert row.cost_usd == 0 and row.price_source == "none" and row.calls == ()
    assert row.baseline_usd == baseline
    assert row.savings == {"memo": baseline}
    assert row.baseline_usage == STORED
    assert response.saved == baseline
    check_sums(row)


async def test_semantic_hit_books_its_embedding_cost(store: LedgerStore) -> None:
    embedding = Call(
        model="text-embedding-3-small",
        provider="openai",
        usage=Usage(input_tokens=20),
        lever="semantic_cache",
    )

    async def hit(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = reply(request, "cached", STORED)
        response.served = None
        response.lever_calls.append(embedding)
        response.steps.append(Step(lever="semantic_cache", detail="hit", avoided=STORED))
        return response

    _, row = await run(store, [stage(hit)], FakeUpstream(), request_for("gpt-4o"))
    cost = usd((20, "0.02"))
    assert row.cost_usd == cost == Decimal("0.0000004")
    assert row.savings == {"semantic_cache": Decimal("0.0045") - cost}
    assert [c.call.lever for c in row.calls] == ["semantic_cache"]
    check_sums(row)


async def test_compression_books_the_tokens_it_removed(store: LedgerStore) -> None:
    async def compress(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = await inner(request)
        change = TokenChange(input_tokens=-500)
        response.steps.append(Step(lever="compress", detail="-500 tokens", tokens=change))
        return response

    upstream = FakeUpstream(lambda req: reply(req, "ok", STORED))
    _, row = await run(store, [stage(compress)], upstream, request_for("gpt-4o"))
    assert row.cost_usd == usd((1000, "2.5"), (200, "10")) == Decimal("0.0045")
    assert row.baseline_usd == usd((1500, "2.5"), (200, "10")) == Decimal("0.00575")
    assert row.savings == {"compress": Decimal("0.00125")}
    assert row.baseline_usage == Usage(input_tokens=1500, output_tokens=200)
    check_sums(row)


def cascade(accept_cheap: bool) -> Stage:
    async def run_cascade(inner: Handler, request: ChatRequest) -> ChatResponse:
        cheap = await inner(dataclasses.replace(request, model="claude-haiku-4-5"))
        if accept_cheap:
            cheap.steps.append(Step(lever="cascade", detail="haiku accepted"))
            return cheap
        strong = await inner(request)
        first = cheap.answer_call()
        assert first is not None
        strong.lever_calls.append(dataclasses.replace(first, lever="cascade"))
        strong.steps.append(Step(lever="cascade", detail="haiku rejected -> sonnet"))
        return strong

    return stage(run_cascade)


def by_model(req: ChatRequest) -> ChatResponse:
    if req.model == "claude-haiku-4-5":
        return reply(req, "cheap", Usage(input_tokens=1000, output_tokens=300))
    return reply(req, "strong", Usage(input_tokens=1000, output_tokens=250))


async def test_escalating_cascade_books_both_calls_and_a_negative_saving(
    store: LedgerStore,
) -> None:
    request = request_for("claude-sonnet-4-6", dialect="anthropic")
    _, row = await run(store, [cascade(False)], FakeUpstream(by_model), request)
    haiku = usd((1000, "1"), (300, "5"))  # $0.0025
    sonnet = usd((1000, "3"), (250, "15"))  # $0.00675
    assert (haiku, sonnet) == (Decimal("0.0025"), Decimal("0.00675"))
    assert row.cost_usd == haiku + sonnet
    assert row.baseline_usd == sonnet
    assert row.savings == {"cascade": -haiku}
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [
        ("claude-haiku-4-5", "cascade", haiku),
        ("claude-sonnet-4-6", None, sonnet),
    ]
    assert row.usage == Usage(input_tokens=2000, output_tokens=550)
    check_sums(row)


async def test_accepting_cascade_books_the_model_change(store: LedgerStore) -> None:
    request = request_for("claude-sonnet-4-6", dialect="anthropic")
    _, row = await run(store, [cascade(True)], FakeUpstream(by_model), request)
    assert row.cost_usd == Decimal("0.0025")
    assert row.baseline_usd == usd((1000, "3"), (300, "15")) == Decimal("0.0075")
    assert row.savings == {"cascade": Decimal("0.005")}
    check_sums(row)


async def test_batch_priced_call_books_the_batch_discount(store: LedgerStore) -> None:
    upstream = FakeUpstream(lambda req: reply(req, "ok", STORED, batch=True))
    _, row = await run(store, [], upstream, request_for("gpt-4o"))
    assert row.cost_usd == usd((1000, "1.25"), (200, "5")) == Decimal("0.00225")
    assert row.baseline_usd == Decimal("0.0045")
    assert row.savings == {"batch": Decimal("0.00225")}
    assert row.calls[0].call.batch
    check_sums(row)


async def test_routing_and_compression_split_the_saving_in_pipeline_order(
    store: LedgerStore,
) -> None:
    async def route(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = await inner(dataclasses.replace(request, model="gpt-4o-mini"))
        response.steps.append(Step(lever="routing", detail="gpt-4o -> gpt-4o-mini"))
        return response

    async def compress(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = await inner(request)
        response.steps.append(
            Step(lever="compress", detail="-500", tokens=TokenChange(input_tokens=-500))
        )
        return response

    upstream = FakeUpstream(lambda req: reply(req, "ok", STORED))
    _, row = await run(store, [stage(compress), stage(route)], upstream, request_for("gpt-4o"))
    actual = usd((1000, "0.15"), (200, "0.6"))  # $0.00027
    assert row.cost_usd == actual == Decimal("0.00027")
    assert row.baseline_usd == Decimal("0.00575")
    # compression priced on the requested model; routing: the rest of the way down
    assert row.savings == {"compress": Decimal("0.00125"), "routing": Decimal("0.0045") - actual}
    check_sums(row)


async def test_a_cache_write_never_read_is_a_negative_saving(store: LedgerStore) -> None:
    usage = Usage(input_tokens=1200, output_tokens=100, cache_write_5m_tokens=1000)

    async def plan(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = await inner(request)
        change = TokenChange(cache_write_5m_tokens=1000)
        response.steps.append(Step(lever="prompt_cache", detail="breakpoint", tokens=change))
        return response

    upstream = FakeUpstream(lambda req: reply(req, "ok", usage))
    request = request_for("claude-sonnet-4-6", dialect="anthropic")
    _, row = await run(store, [stage(plan)], upstream, request)
    assert row.cost_usd == usd((200, "3"), (1000, "3.75"), (100, "15")) == Decimal("0.00585")
    assert row.baseline_usd == usd((1200, "3"), (100, "15")) == Decimal("0.0051")
    assert row.savings == {"prompt_cache": Decimal("-0.00075")}
    check_sums(row)


async def test_unknown_baseline_leaves_the_saving_unknown_not_zero(store: LedgerStore) -> None:
    async def route(inner: Handler, request: ChatRequest) -> ChatResponse:
        response = await inner(dataclasses.replace(request, model="gpt-4o-mini"))
        response.steps.append(Step(lever="routing", detail="mystery -> mini"))
        return response

    upstream = FakeUpstream(lambda req: reply(req, "ok", STORED))
    response, row = await run(store, [stage(route)], upstream, request_for("mystery-model-x"))
    assert row.cost_usd == Decimal("0.00027")
    assert row.baseline_usd is None
    assert row.saved_usd is None
    assert row.savings == {"routing": None}
    assert response.saved is None


async def test_stream_row_books_after_the_final_batch(store: LedgerStore) -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ["a", "b"], STORED))
    _, row = await run(store, [], upstream, request_for("gpt-4o", stream=True))
    assert row.status == 200 and row.failure is None
    assert row.cost_usd == Decimal("0.0045") and row.saved_usd == 0


async def test_mid_stream_failure_keeps_the_status_the_app_got(store: LedgerStore) -> None:
    """Defect: a mid-stream failure was booked as 502 though the app got HTTP 200."""
    upstream = FakeUpstream(lambda req: stream_reply(req, ["a", "b"], STORED, fail_after=2))
    handler = compose([ledger_stage(store, accountant())], upstream)
    response = await handler(request_for("gpt-4o", stream=True))
    with pytest.raises(StreamInterrupted):
        await collect(response)
    (row,) = store.rows()
    assert row.status == 200
    assert row.failure == "mid_stream"
    assert row.error is not None and row.error.startswith("stream_interrupted")


async def test_failure_before_the_first_event_keeps_its_status(store: LedgerStore) -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ["a"], STORED, fail_after=0))
    handler = compose([ledger_stage(store, accountant())], upstream)
    response = await handler(request_for("gpt-4o", stream=True))
    with pytest.raises(StreamInterrupted):
        await collect(response)
    (row,) = store.rows()
    assert (row.status, row.failure) == (502, "upstream")


async def test_error_that_reached_the_upstream_is_unknown_not_zero(store: LedgerStore) -> None:
    """Defect: calls that reached the provider (a body cut mid-way, a timeout after the
    request was sent) were booked as $0."""
    error = StreamInterrupted("cut mid-body", provider="openai")
    error.reached_upstream = True

    def fail(req: ChatRequest) -> ChatResponse:
        raise error

    handler = compose([ledger_stage(store, accountant())], FakeUpstream(fail))
    with pytest.raises(StreamInterrupted):
        await handler(request_for("gpt-4o"))
    (row,) = store.rows()
    assert row.cost_usd is None and row.price_source == "no_usage"
    assert row.saved_usd is None


async def test_error_before_any_call_costs_nothing(store: LedgerStore) -> None:
    from thrifty.errors import UpstreamRateLimited

    def fail(req: ChatRequest) -> ChatResponse:
        raise UpstreamRateLimited("slow down", provider="openai")

    handler = compose([ledger_stage(store, accountant())], FakeUpstream(fail))
    with pytest.raises(UpstreamRateLimited):
        await handler(request_for("gpt-4o"))
    (row,) = store.rows()
    assert (row.cost_usd, row.price_source, row.status) == (Decimal(0), "none", 429)


async def test_billed_calls_view_lists_every_call_whatever_the_storage(
    store: LedgerStore,
) -> None:
    """A one-call request keeps its call in its own row; a cascade lists both in `calls`;
    the view `billed_calls` shows every call the same way."""
    import sqlite3

    single = compose([ledger_stage(store, accountant())], FakeUpstream(by_model))
    await single(request_for("claude-sonnet-4-6", dialect="anthropic"))
    escalating = compose(
        [ledger_stage(store, accountant()), cascade(False)], FakeUpstream(by_model)
    )
    await escalating(request_for("claude-sonnet-4-6", dialect="anthropic"))
    first, second = store.rows()
    assert [c.call.model for c in first.calls] == ["claude-sonnet-4-6"]
    assert [c.call.model for c in second.calls] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    with sqlite3.connect(store.path) as conn:
        listed = conn.execute("SELECT request_id, seq FROM calls ORDER BY seq").fetchall()
        view = conn.execute(
            "SELECT request_id, model, lever, cost_pusd FROM billed_calls ORDER BY request_id, seq"
        ).fetchall()
    conn.close()
    assert listed == [(second.request_id, 0), (second.request_id, 1)]
    expected = sorted(
        [
            (first.request_id, "claude-sonnet-4-6", None, 6_750_000_000),
            (second.request_id, "claude-haiku-4-5", "cascade", 2_500_000_000),
            (second.request_id, "claude-sonnet-4-6", None, 6_750_000_000),
        ]
    )
    assert sorted(view) == expected
