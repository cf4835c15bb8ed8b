"""The local tier as a stage: served locally at $0, or a fallback with both calls booked.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
gpt-4o-mini 0.15 / 0.60.  The local model is $0 (its provider has ``local = true``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tests.ledger import test_accounting_golden as golden
from tests.ledger.test_accounting_golden import check_sums, run, usd
from thrifty.config import RoutingSettings
from thrifty.errors import UpstreamError, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.cheaper.local.tier import LocalTier, TaskTier
from thrifty.levers.cheaper.routing import StaticRouter, routing_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Stage, StreamEvent, Usage

store = golden.store  # the ledger fixture
LOCAL = "llama-local"  # the test kit's accountant books llama* models on its local provider
TIER = TaskTier(model=LOCAL, provider="local", fallback=None, timeout_s=5.0)
USAGE = Usage(input_tokens=1000, output_tokens=200)
JSON_MODE = {"response_format": {"type": "json_object"}}
PERSON = {
    "type": "json_schema",
    "json_schema": {
        "name": "person",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    },
}


def tier_stage(tier: TaskTier = TIER, *, can_take: bool = True) -> Stage:
    return LocalTier({"extract": tier}, lambda request, tier: can_take)


def answering(local: Callable[[ChatRequest], ChatResponse]) -> FakeUpstream:
    """Local requests go to ``local``; any other model answers '{"hosted": true}'."""

    def answer(request: ChatRequest) -> ChatResponse:
        if request.model == LOCAL:
            return local(request)
        if request.stream:
            return stream_reply(request, ['{"hosted"', ": true}"], USAGE)
        return reply(request, '{"hosted": true}', USAGE)

    return FakeUpstream(answer)


def local_says(text: str, usage: Usage = USAGE) -> Callable[[ChatRequest], ChatResponse]:
    return lambda request: reply(request, text, usage, provider="local")


def failing(error: Exception) -> Callable[[ChatRequest], ChatResponse]:
    def fail(request: ChatRequest) -> ChatResponse:
        raise error

    return fail


def tracked(
    pieces: list[str], closed: list[bool], **options: Any
) -> Callable[[ChatRequest], ChatResponse]:
    """A local stream of ``pieces`` that notes in ``closed`` when it is closed."""

    def local(request: ChatRequest) -> ChatResponse:
        response = stream_reply(request, pieces, USAGE, provider="local", **options)
        inner = response.stream
        assert inner is not None

        async def batches() -> AsyncIterator[Sequence[StreamEvent]]:
            try:
                async for batch in inner:
                    yield batch
            finally:
                closed.append(True)

        response.stream = batches()
        return response

    return local


def streamed_text(events: list[StreamEvent]) -> str:
    """The answer text of OpenAI chat-completion chunks."""
    return "".join(
        e.data["choices"][0]["delta"].get("content") or ""
        for e in events
        if e.data and e.data.get("choices")
    )


def text_of(response: ChatResponse) -> str:
    assert response.body is not None
    return str(response.body["choices"][0]["message"]["content"])


async def test_a_plain_request_is_served_locally_at_no_cost(store: LedgerStore) -> None:
    upstream = answering(local_says("hello from local"))
    request = request_for("gpt-4o", task="extract")
    response, row = await run(store, [tier_stage()], upstream, request)
    assert [r.model for r in upstream.requests] == [LOCAL]
    assert text_of(response) == "hello from local"
    assert response.headers == {"local": "served"}
    baseline = usd((1000, "2.5"), (200, "10"))
    assert baseline == Decimal("0.0045")
    assert row.cost_usd == 0 and row.baseline_usd == baseline
    assert row.savings == {"local": baseline}
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [(LOCAL, None, 0)]
    check_sums(row)


async def test_other_tasks_and_other_apis_are_left_alone(store: LedgerStore) -> None:
    upstream = answering(local_says("local"))
    handler = tier_stage()(upstream)
    other = await handler(request_for("gpt-4o", task="chat"))
    untasked = await handler(request_for("gpt-4o"))
    embeddings = replace(request_for("text-embedding-3-small", task="extract"), api="embeddings")
    await handler(embeddings)
    assert [r.model for r in upstream.requests] == ["gpt-4o", "gpt-4o", "text-embedding-3-small"]
    assert "local" not in other.headers and "local" not in untasked.headers


async def test_a_default_tier_serves_every_task_without_its_own() -> None:
    upstream = answering(local_says("local"))
    handler = LocalTier({None: TIER}, lambda request, tier: True)(upstream)
    response = await handler(request_for("gpt-4o", task="anything"))
    assert response.headers["local"] == "served"
    await handler(request_for("gpt-4o"))
    assert [r.model for r in upstream.requests] == [LOCAL, LOCAL]


async def test_valid_json_is_served_locally(store: LedgerStore) -> None:
    upstream = answering(local_says('{"name": "Ada"}'))
    request = request_for("gpt-4o-mini", task="extract", response_format=PERSON)
    response, row = await run(store, [tier_stage()], upstream, request)
    assert response.headers["local"] == "served"
    assert orjson.loads(text_of(response)) == {"name": "Ada"}
    assert row.cost_usd == 0 and row.savings == {"local": usd((1000, "0.15"), (200, "0.6"))}


async def test_invalid_json_falls_back_and_books_both_calls(store: LedgerStore) -> None:
    local_usage = Usage(input_tokens=1100, output_tokens=40)
    upstream = answering(local_says('Sure! {"name": "Ada"}', local_usage))
    request = request_for("gpt-4o-mini", task="extract", **JSON_MODE)
    response, row = await run(store, [tier_stage()], upstream, request)
    assert [r.model for r in upstream.requests] == [LOCAL, "gpt-4o-mini"]
    assert response.headers["local"] == "fallback-invalid-json"
    assert orjson.loads(text_of(response)) == {"hosted": True}
    hosted = usd((1000, "0.15"), (200, "0.6"))
    assert hosted == Decimal("0.00027")
    assert row.cost_usd == hosted and row.baseline_usd == hosted
    assert row.savings == {"local": Decimal(0)}  # the local try cost $0, saved nothing
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [
        (LOCAL, "local", 0),
        ("gpt-4o-mini", None, hosted),
    ]
    assert row.calls[0].call.usage == local_usage  # the local try's own tokens
    assert row.usage == local_usage + USAGE
    check_sums(row)


async def test_a_schema_mismatch_falls_back_with_its_reason(store: LedgerStore) -> None:
    upstream = answering(local_says('{"nom": "Ada"}'))
    request = request_for("gpt-4o-mini", task="extract", response_format=PERSON)
    response, row = await run(store, [tier_stage()], upstream, request)
    assert response.headers["local"] == "fallback-schema-mismatch"
    (step,) = response.steps
    assert step.lever == "local" and "'name' is a required property" in step.detail
    assert [c.call.lever for c in row.calls] == ["local", None]


async def test_an_explicit_fallback_model_books_the_model_change(store: LedgerStore) -> None:
    tier = TaskTier(model=LOCAL, provider="local", fallback="gpt-4o-mini", timeout_s=5.0)
    upstream = answering(local_says("not json"))
    request = request_for("gpt-4o", task="extract", **JSON_MODE)
    response, row = await run(store, [tier_stage(tier)], upstream, request)
    assert [r.model for r in upstream.requests] == [LOCAL, "gpt-4o-mini"]
    assert response.headers["local"] == "fallback-invalid-json"
    baseline = usd((1000, "2.5"), (200, "10"))
    cost = usd((1000, "0.15"), (200, "0.6"))
    assert (baseline, cost) == (Decimal("0.0045"), Decimal("0.00027"))
    assert row.cost_usd == cost and row.baseline_usd == baseline
    assert row.savings == {"local": baseline - cost}
    check_sums(row)


async def test_the_local_try_is_booked_when_the_fallback_fails_too(store: LedgerStore) -> None:
    """The local answer was not JSON, then the hosted fallback failed before any call
    reached it: the failed row still lists the local try, at $0, as the tier's."""

    def answer(request: ChatRequest) -> ChatResponse:
        if request.model == LOCAL:
            return reply(request, "not json", USAGE, provider="local")
        raise UpstreamUnavailable("down", provider="openai")

    handler = compose([ledger_stage(store, accountant()), tier_stage()], FakeUpstream(answer))
    with pytest.raises(UpstreamUnavailable):
        await handler(request_for("gpt-4o", task="extract", **JSON_MODE))
    (row,) = store.rows()
    assert row.status == 502 and row.failure == "upstream"
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [
        (LOCAL, "local", Decimal(0))
    ]
    assert row.cost_usd == Decimal(0) and row.savings == {"local": Decimal(0)}


async def test_routing_keeps_its_share_when_the_fallback_is_its_model(
    store: LedgerStore,
) -> None:
    """Routed gpt-4o -> gpt-4o-mini, local refused, the fallback is the routed model: the
    model change is routing's, the local try's $0 is the local tier's."""
    router = routing_stage(StaticRouter(RoutingSettings(), {"extract": "gpt-4o-mini"}))
    upstream = answering(local_says("not json"))
    request = request_for("gpt-4o", task="extract", **JSON_MODE)
    response, row = await run(store, [router, tier_stage()], upstream, request)
    assert response.headers["local"] == "fallback-invalid-json"
    baseline = usd((1000, "2.5"), (200, "10"))
    cost = usd((1000, "0.15"), (200, "0.6"))
    assert row.savings == {"routing": baseline - cost, "local": Decimal(0)}
    check_sums(row)


def answered_with(error: UpstreamError) -> UpstreamError:
    """``error`` as a provider raises it for an HTTP error status it received."""
    error.upstream_dialect = "openai"
    return error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (UpstreamUnavailable("could not reach local: refused", provider="local"), "down"),
        (UpstreamTimeout("local did not answer in time", provider="local"), "timeout"),
        (UpstreamError("local: 500 internal error", status=500, provider="local"), "error"),
        (UpstreamRateLimited("local: busy", provider="local"), "error"),
        (answered_with(UpstreamUnavailable("local: HTTP 503", provider="local")), "error"),
    ],
)
async def test_a_failing_local_server_falls_back(
    store: LedgerStore, error: UpstreamError, reason: str
) -> None:
    if reason == "error":
        error.reached_upstream = True
    upstream = answering(failing(error))
    request = request_for("gpt-4o-mini", task="extract")
    response, row = await run(store, [tier_stage()], upstream, request)
    assert response.headers["local"] == f"fallback-{reason}"
    assert orjson.loads(text_of(response)) == {"hosted": True}
    local_try = row.calls[0]
    assert (local_try.call.model, local_try.call.lever, local_try.cost.usd) == (LOCAL, "local", 0)
    assert local_try.call.usage == Usage()  # no answer, no tokens
    assert row.cost_usd == usd((1000, "0.15"), (200, "0.6"))
    check_sums(row)


async def test_a_slow_local_server_is_cut_at_its_deadline() -> None:
    cancelled = asyncio.Event()

    async def slow(request: ChatRequest) -> ChatResponse:
        if request.model != LOCAL:
            return reply(request, "hosted", USAGE)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not reached")

    tier = TaskTier(model=LOCAL, provider="local", fallback=None, timeout_s=0.05)
    handler = tier_stage(tier)(FakeUpstream(slow))
    response = await asyncio.wait_for(handler(request_for("gpt-4o", task="extract")), 5)
    assert response.headers["local"] == "fallback-timeout"
    assert cancelled.is_set()  # the local call was abandoned, not left running


async def test_the_hosted_error_is_the_apps_error_after_a_local_failure() -> None:
    def answer(request: ChatRequest) -> ChatResponse:
        if request.model == LOCAL:
            raise UpstreamUnavailable("local down", provider="local")
        raise UpstreamRateLimited("hosted says slow down", provider="openai")

    handler = tier_stage()(FakeUpstream(answer))
    with pytest.raises(UpstreamRateLimited, match="hosted says slow down"):
        await handler(request_for("gpt-4o", task="extract"))


async def test_a_request_the_local_server_cannot_take_goes_straight_to_the_fallback() -> None:
    upstream = answering(local_says("local"))
    response = await tier_stage(can_take=False)(upstream)(request_for("gpt-4o", task="extract"))
    assert [r.model for r in upstream.requests] == ["gpt-4o"]
    assert response.headers["local"] == "skipped"
    assert response.lever_calls == []


async def test_an_invalid_schema_skips_the_local_try() -> None:
    upstream = answering(local_says("{}"))
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 7}}}
    request = request_for("gpt-4o", task="extract", response_format=bad)
    response = await tier_stage()(upstream)(request)
    assert [r.model for r in upstream.requests] == ["gpt-4o"]
    assert response.headers["local"] == "skipped"
    assert "schema" in response.steps[0].detail


# -- streams --------------------------------------------------------------------------------


async def test_a_stream_without_json_passes_straight_through(store: LedgerStore) -> None:
    upstream = answering(lambda r: stream_reply(r, ["hel", "lo"], USAGE, provider="local"))
    request = request_for("gpt-4o", task="extract", stream=True)
    handler = compose([ledger_stage(store, accountant()), tier_stage()], upstream)
    response = await handler(request)
    assert response.headers["local"] == "served"
    assert upstream.requests[0].stream and upstream.requests[0].model == LOCAL
    events = await collect(response)
    expected = await collect(stream_reply(upstream.requests[0], ["hel", "lo"], USAGE))
    assert [e.raw for e in events] == [e.raw for e in expected]
    (row,) = store.rows()
    assert row.cost_usd == 0 and row.savings == {"local": usd((1000, "2.5"), (200, "10"))}


async def test_a_stream_that_fails_before_its_first_batch_falls_back() -> None:
    closed: list[bool] = []

    upstream = answering(tracked(["x"], closed, fail_after=0))
    request = request_for("gpt-4o", task="extract", stream=True)
    response = await tier_stage()(upstream)(request)
    assert response.headers["local"] == "fallback-error"
    assert closed == [True]
    assert streamed_text(await collect(response)) == '{"hosted": true}'


async def test_an_empty_local_stream_falls_back() -> None:
    def empty(request: ChatRequest) -> ChatResponse:
        response = stream_reply(request, ["x"], USAGE, provider="local")

        async def nothing() -> AsyncIterator[list[object]]:
            return
            yield  # an async generator with no batch

        response.stream = nothing()  # type: ignore[assignment]
        return response

    response = await tier_stage()(answering(empty))(
        request_for("gpt-4o", task="extract", stream=True)
    )
    assert response.headers["local"] == "fallback-error"
    await collect(response)


async def test_closing_a_passed_stream_unread_closes_the_local_stream() -> None:
    closed: list[bool] = []

    request = request_for("gpt-4o", task="extract", stream=True)
    response = await tier_stage()(answering(tracked(["a", "b", "c"], closed)))(request)
    assert response.stream is not None
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


def json_stream_request() -> ChatRequest:
    """A streamed request for a person as JSON, with the usage chunk."""
    return request_for(
        "gpt-4o-mini",
        task="extract",
        stream=True,
        stream_options={"include_usage": True},
        response_format=PERSON,
    )


async def test_a_json_stream_is_checked_whole_before_the_app_sees_it(store: LedgerStore) -> None:
    upstream = answering(local_says('{"name": "Ada"}'))
    request = json_stream_request()
    response, row = await run(store, [tier_stage()], upstream, request)
    sent = upstream.requests[0]
    assert sent.model == LOCAL and not sent.stream
    assert "stream" not in sent.body and "stream_options" not in sent.body
    assert response.headers["local"] == "served"
    assert row.cost_usd == 0 and row.calls[0].call.model == LOCAL
    assert row.usage == USAGE


async def test_a_json_stream_replays_the_accepted_answer_as_a_stream() -> None:
    upstream = answering(local_says('{"name": "Ada"}'))
    request = json_stream_request()
    response = await tier_stage()(upstream)(request)
    events = await collect(response)
    chunks = [e.data for e in events if e.data is not None]
    text = streamed_text(events)
    assert orjson.loads(text) == {"name": "Ada"}
    assert chunks[-1]["usage"]["prompt_tokens"] == 1000  # the app asked for usage
    assert events[-1].data is None  # data: [DONE]
    assert response.stream_complete and response.usage == USAGE


async def test_an_invalid_json_stream_falls_back_to_a_hosted_stream(store: LedgerStore) -> None:
    upstream = answering(local_says("{nope"))
    request = request_for("gpt-4o-mini", task="extract", stream=True, **JSON_MODE)
    response, row = await run(store, [tier_stage()], upstream, request)
    assert response.headers["local"] == "fallback-invalid-json"
    hosted = upstream.requests[1]
    assert hosted.model == "gpt-4o-mini" and hosted.stream
    assert [c.call.lever for c in row.calls] == ["local", None]
    check_sums(row)


async def test_anthropic_requests_are_checked_in_their_own_dialect() -> None:
    fmt = {
        "type": "json_schema",
        "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
    }
    request = request_for(
        "claude-sonnet-4-6", dialect="anthropic", task="extract", output_format=fmt
    )
    served = await tier_stage()(answering(local_says('{"n": 3}')))(request)
    assert served.headers["local"] == "served"
    refused = await tier_stage()(answering(local_says('{"n": "three"}')))(request)
    assert refused.headers["local"] == "fallback-schema-mismatch"
