"""In-flight coalescing with the test kit: identical requests share one call, waiters that
leave do not disturb the others, errors reach everyone, tenants never mix."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from tests.streams.fakes import batch, complete, names, streamed
from thrifty.config import Settings
from thrifty.errors import StreamInterrupted, UpstreamUnavailable
from thrifty.levers.fewer_calls.coalesce import (
    FOLLOWER,
    coalesce_stage,
    flight_key,
    is_deterministic,
    mode_of,
)
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Handler, StreamEvent, Usage

TIMEOUT = 5  # nothing may hang: a waiter that would wait forever fails the test instead
USAGE = Usage(input_tokens=1000, output_tokens=200)


def handler(upstream: Handler, mode: str = "deterministic") -> Handler:
    return coalesce_stage({None: mode})(upstream)  # type: ignore[dict-item]


def ask(text: str = "hello", **extra: object) -> ChatRequest:
    extra.setdefault("temperature", 0)
    return request_for("gpt-4o", text, **extra)  # type: ignore[arg-type]


class Gated:
    """An upstream that answers only when ``gate`` is set; records cancellations."""

    def __init__(self, make: type[Exception] | None = None, stream: bool = False) -> None:
        self.gate = asyncio.Event()
        self.calls = 0
        self.cancelled = 0
        self.error = make
        self.stream = stream

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error("the upstream failed")
        if self.stream:
            return stream_reply(request, ("a", "b", "c"), USAGE)
        return reply(request, "shared", USAGE)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_hundred_identical_requests_make_one_call() -> None:
    upstream = Gated()
    handle = handler(upstream)
    tasks = [asyncio.create_task(handle(ask())) for _ in range(100)]
    await settle()
    upstream.gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert upstream.calls == 1
    payers = [r for r in responses if r.served is not None]
    followers = [r for r in responses if r.served is None]
    assert len(payers) == 1 and len(followers) == 99
    assert payers[0].steps == [] and "coalesce" not in payers[0].headers
    for response in followers:
        assert [(s.lever, s.avoided) for s in response.steps] == [("coalesce", USAGE)]
        assert response.headers["coalesce"] == FOLLOWER
        assert response.body is not None
        assert response.body["choices"][0]["message"]["content"] == "shared"
    bodies = {id(r.body) for r in responses}
    assert len(bodies) == 100  # each got its own copy: one app cannot change another's


async def test_a_hundred_streams_make_one_call_and_each_reads_every_event() -> None:
    upstream = Gated(stream=True)
    handle = handler(upstream)
    tasks = [asyncio.create_task(handle(ask(stream=True))) for _ in range(100)]
    await settle()
    upstream.gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    events = await asyncio.wait_for(asyncio.gather(*(collect(r) for r in responses)), TIMEOUT)
    assert upstream.calls == 1
    first = [e.raw for e in events[0]]
    assert len(first) > 3 and all([e.raw for e in got] == first for got in events)
    assert all(r.stream_complete and r.usage == USAGE for r in responses)
    followers = [r for r in responses if r.served is None]
    assert len(followers) == 99
    assert all(r.steps[-1].avoided == USAGE for r in followers)  # final usage, once complete


async def test_a_waiter_that_leaves_does_not_cancel_the_others() -> None:
    upstream = Gated()
    handle = handler(upstream)
    first = asyncio.create_task(handle(ask()))
    second = asyncio.create_task(handle(ask()))
    await settle()
    first.cancel()  # the first request's client left: the call goes on for the second
    await settle()
    assert upstream.cancelled == 0
    upstream.gate.set()
    response = await asyncio.wait_for(second, TIMEOUT)
    assert first.cancelled()
    assert upstream.calls == 1
    assert response.served is not None  # the only one left pays for the call
    assert response.steps == []


async def test_the_call_is_cancelled_when_every_waiter_left() -> None:
    upstream = Gated()
    handle = handler(upstream)
    tasks = [asyncio.create_task(handle(ask())) for _ in range(3)]
    await settle()
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=TIMEOUT)
    await settle()
    assert upstream.cancelled == 1
    upstream.gate.set()
    response = await asyncio.wait_for(handle(ask()), TIMEOUT)  # a new request calls again
    assert upstream.calls == 2 and response.served is not None


async def test_an_error_before_the_answer_reaches_every_waiter() -> None:
    upstream = Gated(make=UpstreamUnavailable)
    handle = handler(upstream)
    tasks = [asyncio.create_task(handle(ask())) for _ in range(5)]
    await settle()
    upstream.gate.set()
    done, _ = await asyncio.wait(tasks, timeout=TIMEOUT)
    assert len(done) == 5 and upstream.calls == 1
    errors = [t.exception() for t in tasks]
    assert all(isinstance(e, UpstreamUnavailable) for e in errors)
    # The first booked the call (reached_upstream stays as the error said); the followers
    # made none, so their rows must not book an unknown cost for it.
    errors[0].reached_upstream = True  # type: ignore[union-attr]
    assert [e.reached_upstream for e in errors[1:]] == [False] * 4  # type: ignore[union-attr]
    upstream.error = None
    upstream.gate = asyncio.Event()
    upstream.gate.set()
    await asyncio.wait_for(handle(ask()), TIMEOUT)
    assert upstream.calls == 2  # an error is never shared with a later request


async def test_an_error_mid_stream_reaches_every_reader() -> None:
    def cut(request: ChatRequest) -> ChatResponse:
        return stream_reply(request, ("a", "b", "c"), USAGE, fail_after=2)

    gate = asyncio.Event()

    async def answer(request: ChatRequest) -> ChatResponse:
        await gate.wait()
        return cut(request)

    upstream = FakeUpstream(answer)
    handle = handler(upstream)
    tasks = [asyncio.create_task(handle(ask(stream=True))) for _ in range(4)]
    await settle()
    gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)

    async def read(response: ChatResponse) -> int:
        got = 0
        with pytest.raises(StreamInterrupted):
            async for _ in response.stream:  # type: ignore[union-attr]
                got += 1
        return got

    counts = await asyncio.wait_for(asyncio.gather(*(read(r) for r in responses)), TIMEOUT)
    assert counts == [2, 2, 2, 2] and len(upstream.requests) == 1


def scripted(made: list[object], gate: asyncio.Event, answered: asyncio.Event) -> FakeUpstream:
    """A stream that waits at ``answered`` before its headers and at ``gate`` mid-way."""

    async def answer(request: ChatRequest) -> ChatResponse:
        await answered.wait()
        response, upstream = streamed([batch("a"), gate, batch("b"), complete, batch("c")])
        made.append(upstream)
        response.served = request
        return response

    return FakeUpstream(answer)


async def test_a_request_that_joins_a_shared_stream_reads_it_from_the_start() -> None:
    gate, answered = asyncio.Event(), asyncio.Event()
    made: list[object] = []
    handle = handler(scripted(made, gate, answered))
    first, second = (asyncio.create_task(handle(ask(stream=True))) for _ in range(2))
    await settle()
    answered.set()
    payer, follower = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    assert payer.stream is not None and follower.stream is not None
    seen: list[Sequence[StreamEvent]] = [await payer.stream.__anext__()]  # type: ignore[attr-defined]
    late = await handle(ask(stream=True))  # joins the shared stream while it runs
    assert late.served is None and late.headers["coalesce"] == FOLLOWER
    gate.set()
    seen += [b async for b in payer.stream]
    for other in (late, follower):
        got = await asyncio.wait_for(collect(other), TIMEOUT)
        assert [e.raw.decode()[6:-2] for e in got] == names(seen) == ["a", "b", "c"]
    assert len(made) == 1
    again = await handle(ask(stream=True))  # the stream is over: a new call
    assert len(made) == 2 and again.served is not None
    await collect(again)


async def test_a_stream_nobody_shared_is_handed_over_as_it_is() -> None:
    gate, answered = asyncio.Event(), asyncio.Event()
    answered.set()
    made: list[object] = []
    handle = handler(scripted(made, gate, answered))
    alone = await handle(ask(stream=True))
    assert alone.stream is made[0]  # no tee: nothing added per batch
    later = asyncio.create_task(handle(ask(stream=True)))  # not joinable: its own call
    await settle()
    gate.set()
    await asyncio.wait_for(collect(alone), TIMEOUT)
    await asyncio.wait_for(collect(await later), TIMEOUT)
    assert len(made) == 2


async def test_tenants_tasks_and_sampled_requests_do_not_share() -> None:
    upstream = Gated()
    handle = handler(upstream)
    requests = [
        ask(tenant="a"),
        ask(tenant="b"),
        ask(tenant="a", task="other"),
        ask(stream=True, tenant="a"),
        ask("something else", tenant="a"),
        dataclasses.replace(ask(temperature=0.7), tenant="a"),  # sampled: never by default
    ]
    tasks = [asyncio.create_task(handle(r)) for r in requests]
    await settle()
    upstream.gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert upstream.calls == len(requests)
    assert all(r.served is not None for r in responses)
    for response in responses:
        if response.stream is not None:
            await collect(response)


async def test_sampled_requests_share_when_the_mode_is_all() -> None:
    upstream = Gated()
    handle = handler(upstream, mode="all")
    tasks = [asyncio.create_task(handle(request_for("gpt-4o"))) for _ in range(3)]
    await settle()
    upstream.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert upstream.calls == 1


async def test_off_for_a_task_passes_through() -> None:
    upstream = Gated()
    handle = coalesce_stage({None: "all", "solo": "off"})(upstream)
    tasks = [asyncio.create_task(handle(ask(task="solo"))) for _ in range(2)]
    await settle()
    upstream.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert upstream.calls == 2


def test_what_counts_as_deterministic() -> None:
    assert is_deterministic(ask())
    assert is_deterministic(request_for("gpt-4o", temperature=0.0))
    assert is_deterministic(request_for("gpt-4o", seed=7))
    assert is_deterministic(request_for("claude-haiku-4-5", dialect="anthropic", top_k=1))
    assert not is_deterministic(request_for("gpt-4o"))  # the provider's default samples
    assert not is_deterministic(request_for("gpt-4o", temperature=1))
    assert not is_deterministic(request_for("gpt-4o", temperature=False))
    embedding = dataclasses.replace(request_for("text-embedding-3-small"), api="embeddings")
    assert is_deterministic(embedding)


def test_settings_choose_the_mode_per_task() -> None:
    settings = Settings(
        levers={"coalesce": {"sampled": True}},
        tasks={"solo": {"coalesce": {"enabled": False}}},
    )
    assert mode_of(Settings().levers.coalesce) == "deterministic"  # the default
    assert mode_of(settings.levers_for(None).coalesce) == "all"
    assert mode_of(settings.levers_for("solo").coalesce) == "off"


def test_flight_keys_compare_bodies_whatever_their_key_order() -> None:
    a = ask(max_tokens=5)
    b = dataclasses.replace(a, body=dict(reversed(list(a.body.items()))))
    assert flight_key(a) == flight_key(b)
    assert flight_key(a) != flight_key(dataclasses.replace(a, model="gpt-4o-mini"))
    assert flight_key(a) != flight_key(dataclasses.replace(a, dialect="anthropic"))
    forwarded = dataclasses.replace(a, upstream_headers=(("anthropic-beta", "x"),))
    assert flight_key(a) != flight_key(forwarded)


async def test_a_body_that_is_not_plain_json_is_never_shared() -> None:
    upstream = Gated()
    handle = handler(upstream)
    odd = ask(metadata={"thing": object()})  # a library caller's own object
    tasks = [asyncio.create_task(handle(odd)) for _ in range(2)]
    await settle()
    upstream.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert flight_key(odd) is None and upstream.calls == 2


async def test_a_payer_that_leaves_as_the_answer_comes_hands_it_over() -> None:
    tasks: list[asyncio.Task[ChatResponse]] = []
    gate = asyncio.Event()

    async def answer(request: ChatRequest) -> ChatResponse:
        await gate.wait()
        tasks[0].cancel()  # the payer's client leaves just as its answer is ready
        return reply(request, "shared", USAGE)

    handle = handler(FakeUpstream(answer))
    tasks.append(asyncio.create_task(handle(ask())))
    await settle()
    tasks.append(asyncio.create_task(handle(ask())))
    await settle()
    gate.set()
    done, _ = await asyncio.wait(tasks, timeout=TIMEOUT)
    assert len(done) == 2 and tasks[0].cancelled()
    heir = tasks[1].result()
    assert heir.served is not None  # it books the call the payer would have booked
    assert heir.steps == [] and "coalesce" not in heir.headers
