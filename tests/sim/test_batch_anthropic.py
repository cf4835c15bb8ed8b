"""Anthropic Message Batches on the simulator, with the official SDK as the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest
from starlette.applications import Starlette

from tests.sim.conftest import FakeClock
from thrifty.sim import SimConfig, create_app, sim_state


def request(custom_id: str, text: str, **params: Any) -> Any:
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, **params}
    body["messages"] = [{"role": "user", "content": text}]
    return {"custom_id": custom_id, "params": body}


@pytest.fixture
def app(clock: FakeClock) -> Starlette:
    return create_app(SimConfig(batch_duration_s=100.0, batch_window_s=1000.0), clock=clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        yield anthropic.AsyncAnthropic(
            base_url="http://sim", api_key="sk-ant", http_client=http, max_retries=0
        )


async def test_a_batch_ends_with_succeeded_and_errored_results(
    client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    batch = await client.messages.batches.create(
        requests=[
            request("a", "first"),
            request("b", "second [[sim:fault=529]]"),
            request("c", "third", max_tokens=0),
            request("d", "fourth"),
        ]
    )
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert batch.request_counts.processing == 4
    clock.advance(50)
    half = await client.messages.batches.retrieve(batch.id)
    assert (half.request_counts.succeeded, half.request_counts.errored) == (1, 1)
    assert half.request_counts.processing == 2
    clock.advance(50)
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at is not None
    assert ended.results_url is not None
    results = [r async for r in await client.messages.batches.results(batch.id)]
    assert [(r.custom_id, r.result.type) for r in results] == [
        ("a", "succeeded"),
        ("b", "errored"),
        ("c", "errored"),
        ("d", "succeeded"),
    ]
    first = results[0].result
    assert first.type == "succeeded"
    assert first.message.usage.service_tier == "batch"
    assert first.message.usage.input_tokens > 0
    errored = results[1].result
    assert errored.type == "errored" and errored.error.error.type == "overloaded_error"
    chat = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "first"}]
    )
    assert chat.content == first.message.content
    assert chat.usage.output_tokens == first.message.usage.output_tokens


async def test_cancel_and_expiry(client: anthropic.AsyncAnthropic, clock: FakeClock) -> None:
    batch = await client.messages.batches.create(
        requests=[request(f"r{i}", f"q{i}") for i in range(4)]
    )
    clock.advance(50)
    canceling = await client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at
    ended = await client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 2)
    kinds = [r.result.type async for r in await client.messages.batches.results(batch.id)]
    assert kinds == ["succeeded", "succeeded", "canceled", "canceled"]


async def test_a_slow_batch_expires(clock: FakeClock) -> None:
    app = create_app(SimConfig(batch_duration_s=300.0, batch_window_s=100.0), clock=clock)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        client = anthropic.AsyncAnthropic(base_url="http://sim", api_key="k", http_client=http)
        batch = await client.messages.batches.create(
            requests=[request(f"r{i}", "q") for i in range(3)]
        )
        clock.advance(100)
        ended = await client.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert (ended.request_counts.succeeded, ended.request_counts.expired) == (1, 2)
        kinds = [r.result.type async for r in await client.messages.batches.results(batch.id)]
        assert kinds == ["succeeded", "expired", "expired"]


async def test_time_scale_accelerates_a_batch(clock: FakeClock) -> None:
    config = SimConfig(batch_duration_s=3600.0, batch_time_scale=3600.0)
    app = create_app(config, clock=clock)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        client = anthropic.AsyncAnthropic(base_url="http://sim", api_key="k", http_client=http)
        batch = await client.messages.batches.create(requests=[request("a", "q")])
        clock.advance(0.5)
        assert (await client.messages.batches.retrieve(batch.id)).processing_status == "in_progress"
        clock.advance(0.5)  # one second is the whole simulated hour
        assert (await client.messages.batches.retrieve(batch.id)).processing_status == "ended"


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least 1"),
        ([request("a", "x"), request("a", "y")], "requests.1.custom_id"),
        ([request("bad id!", "x")], "requests.0.custom_id"),
        ([{"custom_id": "a"}], "requests.0.params"),
    ],
)
async def test_bad_batches_are_400s_naming_the_request(
    client: anthropic.AsyncAnthropic, requests: list[Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        await client.messages.batches.create(requests=requests)


async def test_results_before_the_end_and_unknown_batches(
    client: anthropic.AsyncAnthropic, app: Starlette
) -> None:
    batch = await client.messages.batches.create(requests=[request("a", "x")])
    raw = await client._client.get(f"http://sim/v1/messages/batches/{batch.id}/results")
    assert raw.status_code == 400
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve("msgbatch_missing")
    listed = await client.messages.batches.list(limit=5)
    assert [b.id for b in listed.data] == [batch.id]
    assert sim_state(app).stats.by_route["/v1/messages/batches"] == 1
