"""Coalescing at the gateway, with the official SDKs: identical concurrent requests make one
simulator call, streams reach every client, a client that leaves does not stop the others,
a failure reaches everyone, tenants never share."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.gateway.fewer_calls_kit import TIMEOUT, rows, running, sdks, upstream_calls

SLOW = "[[sim:latency=800]]"  # the first call is still running when the others arrive
SLOWER = "[[sim:latency=2000]]"  # ... even for a hundred SDK clients on a busy machine


async def test_a_hundred_identical_requests_make_one_upstream_call(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask() -> openai.AsyncAPIResponse:  # type: ignore[type-arg]
                return await oai.chat.completions.with_raw_response.create(
                    model="gpt-4o",
                    temperature=0,
                    messages=[{"role": "user", "content": f"{SLOWER} name a colour"}],
                )

            raw = await asyncio.wait_for(asyncio.gather(*(ask() for _ in range(100))), TIMEOUT)
        assert await upstream_calls(gw) == 1
        answers = {r.parse().choices[0].message.content for r in raw}
        assert len(answers) == 1
        followers = [r for r in raw if r.headers.get("x-thrifty-coalesce") == "follower"]
        assert len(followers) == 99
        assert all(r.headers["x-thrifty-cost-usd"] == "0" for r in followers)
        booked = await rows(gw, 100)
    paid = [row for row in booked if row.calls]
    assert len(paid) == 1 and paid[0].cost_usd is not None and paid[0].cost_usd > 0
    call_cost = paid[0].cost_usd
    for row in booked:
        if row is paid[0]:
            assert row.savings == {}
            continue
        assert row.cost_usd == Decimal(0) and row.status == 200
        assert row.baseline_usd == call_cost  # the same model: the call it did not make
        assert row.savings == {"coalesce": call_cost}
    assert sum(r.saved_usd or 0 for r in booked) == 99 * call_cost


async def test_streams_reach_every_client(tmp_path: Path) -> None:
    async with running(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 10}) as gw:
        _, ant = sdks(gw)
        async with ant:

            async def read() -> str:
                async with ant.messages.stream(
                    model="claude-haiku-4-5",
                    max_tokens=60,
                    extra_body={"temperature": 0},  # not a stream() argument in this SDK
                    messages=[{"role": "user", "content": "tell me a story"}],
                ) as stream:
                    return "".join([text async for text in stream.text_stream])

            texts = await asyncio.wait_for(asyncio.gather(*(read() for _ in range(20))), TIMEOUT)
        assert await upstream_calls(gw) == 1
        assert len(set(texts)) == 1 and texts[0]
        booked = await rows(gw, 20)
    assert sum(bool(r.calls) for r in booked) == 1
    assert all(r.status == 200 and r.failure is None for r in booked)
    followers = [r for r in booked if not r.calls]
    assert all(r.savings.get("coalesce") == r.baseline_usd for r in followers)
    assert all(r.baseline_usd is not None and r.baseline_usd > 0 for r in followers)


async def test_a_client_that_leaves_does_not_stop_the_others(tmp_path: Path) -> None:
    body = {
        "model": "gpt-4o",
        "temperature": 0,
        "stream": True,
        "max_tokens": 80,
        "messages": [{"role": "user", "content": f"{SLOW} a long story please"}],
    }
    async with (
        running(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 15}) as gw,
        httpx.AsyncClient(base_url=gw.url, timeout=TIMEOUT) as http,
    ):
        stayers_reading = asyncio.Event()
        started: list[int] = []

        async def read(leave: bool) -> bytes:
            async with http.stream("POST", "/v1/chat/completions", json=body) as answer:
                got = b""
                async for chunk in answer.aiter_bytes():
                    got += chunk
                    if leave:
                        await stayers_reading.wait()
                        break  # the payer hangs up while the others read on
                    started.append(1)
                    if len(started) == 2:
                        stayers_reading.set()
                return got

        # The first request makes the call and pays for it; two more wait for it and share
        # its stream; the payer hangs up once they read.
        leaver = asyncio.create_task(read(leave=True))
        await asyncio.sleep(0.2)
        stayers = [asyncio.create_task(read(leave=False)) for _ in range(2)]
        outcomes = await asyncio.wait_for(asyncio.gather(leaver, *stayers), TIMEOUT)
        assert all(b"data: [DONE]" in got for got in outcomes[1:])
        done = b"data: [DONE]\n\n"  # the same answer; only the cost comment after it differs
        assert outcomes[1].split(done)[0] == outcomes[2].split(done)[0]
        booked = await rows(gw, 3)
        assert await upstream_calls(gw) == 1
    left = [r for r in booked if r.status == 499]
    assert len(left) == 1 and left[0].failure == "client_left" and left[0].cost_usd == 0
    # The payer left: the call was handed to a request that read it to the end, which
    # booked it; the leaver's row books nothing.
    assert sum(bool(r.calls) for r in booked) == 1
    (payer,) = [r for r in booked if r.calls]
    assert payer.status == 200 and payer.cost_usd is not None and payer.cost_usd > 0


async def test_a_failed_call_fails_every_client_once(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask() -> BaseException | None:
                try:
                    await oai.chat.completions.create(
                        model="gpt-4o",
                        temperature=0,
                        messages=[{"role": "user", "content": f"{SLOW} [[sim:fault=500]] hi"}],
                    )
                except openai.APIStatusError as exc:
                    return exc
                return None

            errors = await asyncio.wait_for(asyncio.gather(*(ask() for _ in range(5))), TIMEOUT)
        assert all(isinstance(e, openai.InternalServerError) for e in errors)
        assert await upstream_calls(gw) == 1
        booked = await rows(gw, 5)
    assert all(r.status >= 500 for r in booked)
    # The one that made the call books it as the provider answered (an error status: $0);
    # the others made none.
    assert all(r.cost_usd == Decimal(0) for r in booked)


@pytest.mark.parametrize("header", ["x-thrifty-tenant", "x-thrifty-task"])
async def test_other_tenants_and_tasks_never_share(tmp_path: Path, header: str) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask(value: str) -> None:
                await oai.chat.completions.create(
                    model="gpt-4o",
                    temperature=0,
                    messages=[{"role": "user", "content": f"{SLOW} hi"}],
                    extra_headers={header: value},
                )

            await asyncio.wait_for(asyncio.gather(ask("a"), ask("b"), ask("a")), TIMEOUT)
        assert await upstream_calls(gw) == 2  # "a" twice shares; "b" calls on its own


async def test_sampled_requests_are_not_coalesced_by_default(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask() -> None:
                await oai.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"{SLOW} hi"}]
                )

            await asyncio.wait_for(asyncio.gather(ask(), ask()), TIMEOUT)
        assert await upstream_calls(gw) == 2


async def test_a_stream_cut_mid_way_ends_every_client_with_an_error_event(
    tmp_path: Path,
) -> None:
    body = {
        "model": "gpt-4o",
        "temperature": 0,
        "stream": True,
        "max_tokens": 60,
        "messages": [{"role": "user", "content": f"{SLOW} [[sim:fault=cut]] a story"}],
    }
    async with (
        running(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 5}) as gw,
        httpx.AsyncClient(base_url=gw.url, timeout=TIMEOUT) as http,
    ):

        async def read() -> tuple[int, bytes]:
            async with http.stream("POST", "/v1/chat/completions", json=body) as answer:
                return answer.status_code, b"".join([c async for c in answer.aiter_bytes()])

        got = await asyncio.wait_for(asyncio.gather(*(read() for _ in range(3))), TIMEOUT)
        assert await upstream_calls(gw) == 1
        booked = await rows(gw, 3)
    for status, payload in got:
        assert status == 200  # the stream had started: the error comes as an event
        assert b"data: [DONE]" not in payload and b'"stream_interrupted"' in payload
    assert all(r.failure == "mid_stream" for r in booked)
    assert sum(bool(r.calls) for r in booked) == 1  # the cut call is booked once
