"""Debounce with the test kit: a newer request with the same key supersedes an older one
in flight (before its call, during it, during its stream); wait_ms turns a burst into one
call; keys are scoped by tenant."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.streams.fakes import batch, complete, streamed
from thrifty.config import Settings
from thrifty.errors import Superseded
from thrifty.levers.fewer_calls.debounce import debounce_stage, waits_of
from thrifty.testing import FakeUpstream, collect, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

TIMEOUT = 5
USAGE = Usage(input_tokens=100, output_tokens=20)


def keyed(
    text: str, key: str = "search", tenant: str | None = None, **extra: object
) -> ChatRequest:
    request = request_for("gpt-4o", text, tenant=tenant, **extra)  # type: ignore[arg-type]
    return dataclasses.replace(request, metadata={"debounce_key": key})


def stage(upstream: Handler, wait_s: float | None = 0.0) -> Handler:
    return debounce_stage({None: wait_s})(upstream)


class Slow:
    """Answers after ``gate``; counts calls that were cancelled."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.texts: list[str] = []
        self.cancelled: list[str] = []

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        text = request.body["messages"][0]["content"]
        self.texts.append(text)
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(text)
            raise
        return reply(request, f"answer to {text}", USAGE)


async def test_a_newer_request_supersedes_the_older_call() -> None:
    upstream = Slow()
    handle = stage(upstream)
    older = asyncio.create_task(handle(keyed("ca")))
    await asyncio.sleep(0.01)
    newer = asyncio.create_task(handle(keyed("cat")))
    with pytest.raises(Superseded) as caught:
        await asyncio.wait_for(older, TIMEOUT)
    assert caught.value.status == 409 and caught.value.code == "superseded"
    assert caught.value.failure == "superseded"
    assert caught.value.reached_upstream  # its call had started: it may have been billed
    assert upstream.cancelled == ["ca"]  # the older call was cancelled, not left running
    upstream.gate.set()
    response = await asyncio.wait_for(newer, TIMEOUT)
    assert response.body is not None
    assert response.body["choices"][0]["message"]["content"] == "answer to cat"


async def test_wait_ms_turns_a_burst_into_one_call() -> None:
    upstream = Slow()
    upstream.gate.set()
    handle = stage(upstream, wait_s=0.05)
    tasks = []
    for text in ("c", "ca", "cat", "cats"):
        tasks.append(asyncio.create_task(handle(keyed(text))))
        await asyncio.sleep(0.005)
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
    assert upstream.texts == ["cats"]  # only the last one called
    superseded = [r for r in results[:3] if isinstance(r, Superseded)]
    assert len(superseded) == 3 and not any(r.reached_upstream for r in superseded)
    assert isinstance(results[3], ChatResponse)


async def test_keys_and_tenants_are_separate() -> None:
    upstream = Slow()
    handle = stage(upstream)
    tasks = [
        asyncio.create_task(handle(keyed("a", key="one"))),
        asyncio.create_task(handle(keyed("b", key="two"))),
        asyncio.create_task(handle(keyed("c", key="one", tenant="other"))),
        asyncio.create_task(handle(request_for("gpt-4o", "no key"))),
        asyncio.create_task(handle(request_for("gpt-4o", "no key"))),
    ]
    await asyncio.sleep(0.01)
    upstream.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert len(results) == 5 and upstream.cancelled == []


async def test_a_request_whose_client_left_is_not_reported_superseded() -> None:
    upstream = Slow()
    handle = stage(upstream)
    older = asyncio.create_task(handle(keyed("a")))
    await asyncio.sleep(0.01)
    older.cancel()  # the app went away: a plain cancellation, the call is cancelled too
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(older, TIMEOUT)
    assert upstream.cancelled == ["a"]
    upstream.gate.set()
    newer = await asyncio.wait_for(handle(keyed("b")), TIMEOUT)  # the key is free again
    assert newer.body is not None


async def test_an_answered_request_is_not_superseded_afterwards() -> None:
    upstream = Slow()
    upstream.gate.set()
    handle = stage(upstream)
    first = await handle(keyed("a"))
    second = await handle(keyed("b"))
    assert first.body is not None and second.body is not None


async def test_a_newer_request_cuts_the_older_stream() -> None:
    gates: list[asyncio.Event] = []
    closed: list[object] = []

    def answer(request: ChatRequest) -> ChatResponse:
        gate = asyncio.Event()
        gates.append(gate)
        response, upstream = streamed([batch("a"), gate, batch("b"), complete])
        response.served = request
        closed.append(upstream)
        return response

    handle = stage(FakeUpstream(answer))
    older = await handle(keyed("x", stream=True))
    assert older.stream is not None
    first = await older.stream.__anext__()  # type: ignore[attr-defined]
    assert first[0].raw == b"data: a\n\n"
    newer = await handle(keyed("xy", stream=True))
    with pytest.raises(Superseded):
        await asyncio.wait_for(collect(older), TIMEOUT)
    assert closed[0].closed == 1  # type: ignore[attr-defined]  # the upstream was closed
    assert older.usage_estimated  # what the cut stream consumed, to book
    gates[1].set()
    events = await asyncio.wait_for(collect(newer), TIMEOUT)
    assert [e.raw for e in events] == [b"data: a\n\n", b"data: b\n\n"]


def test_settings_wait_per_task() -> None:
    settings = Settings(
        levers={"debounce": {"wait_ms": 250}},
        tasks={"live": {"debounce": {"wait_ms": 0}}, "free": {"debounce": {"enabled": False}}},
    )
    assert waits_of(settings) == {None: 0.25, "live": 0.0, "free": None}
    assert waits_of(Settings()) == {None: 0.0}  # on by default: it acts only on the header
    with pytest.raises(ValueError):
        Settings(levers={"debounce": {"wait_ms": -1}})
