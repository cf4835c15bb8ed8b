"""Idempotency keys with the test kit: a repeat replays the stored answer, another body is
a conflict, in-flight repeats wait, failures are never kept, a broken store only means no
replay."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from thrifty.config import Settings
from thrifty.errors import ConfigError, IdempotencyKeyReused, StreamInterrupted, UpstreamUnavailable
from thrifty.levers.fewer_calls.idempotency import REPLAY, Keeper, idempotency_stage, ttls_of
from thrifty.levers.fewer_calls.idempotency_records import (
    PROVIDER,
    CorruptRecord,
    Record,
    fingerprint,
    new_store,
    slot_of,
    store_path,
)
from thrifty.store import CacheStats, MemoryCache
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

TIMEOUT = 5
USAGE = Usage(input_tokens=1000, output_tokens=200)
DAY = 86_400.0


def keyed(key: str = "k-1", text: str = "hello", **extra: object) -> ChatRequest:
    request = request_for("gpt-4o", text, **extra)  # type: ignore[arg-type]
    return dataclasses.replace(request, metadata={"idempotency_key": key})


def stage(upstream: Handler, store: MemoryCache | None = None, ttl: float | None = DAY) -> Handler:
    keeper = Keeper(store if store is not None else MemoryCache())
    return idempotency_stage(keeper, {None: ttl})(upstream)


def answered(text: str = "first") -> FakeUpstream:
    return FakeUpstream(lambda req: reply(req, text, USAGE))


def slow_upstream() -> tuple[asyncio.Event, FakeUpstream]:
    """An upstream that answers once the returned gate is set."""
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> ChatResponse:
        await gate.wait()
        return reply(request, "first", USAGE)

    return gate, FakeUpstream(slow)


async def test_a_repeat_gets_the_stored_answer_without_a_call() -> None:
    upstream = answered()
    handle = stage(upstream)
    first = await handle(keyed())
    again = await handle(keyed())
    assert len(upstream.requests) == 1
    assert first.served is not None and first.steps == []
    assert again.served is None and again.provider == PROVIDER
    assert [(s.lever, s.detail, s.avoided) for s in again.steps] == [("idempotency", REPLAY, USAGE)]
    assert again.headers == {"idempotency": REPLAY}
    assert again.body == first.body and again.body is not first.body
    assert again.usage == USAGE and again.model == "gpt-4o"


async def test_the_same_key_with_another_body_is_a_conflict() -> None:
    upstream = answered()
    handle = stage(upstream)
    await handle(keyed(text="hello"))
    for other in (keyed(text="bye"), keyed(temperature=0), keyed(stream=True)):
        with pytest.raises(IdempotencyKeyReused) as caught:
            await handle(other)
        assert caught.value.status == 409 and caught.value.code == "idempotency_key_reused"
        assert not caught.value.reached_upstream
    assert len(upstream.requests) == 1


async def test_keys_are_scoped_by_tenant() -> None:
    upstream = answered()
    handle = stage(upstream)
    a = await handle(dataclasses.replace(keyed(), tenant="a"))
    b = await handle(dataclasses.replace(keyed(text="other"), tenant="b"))  # no conflict
    assert a.served is not None and b.served is not None
    assert len(upstream.requests) == 2


async def test_requests_without_a_key_or_with_the_lever_off_pass_through() -> None:
    upstream = answered()
    handle = stage(upstream)
    await handle(request_for("gpt-4o"))
    await handle(request_for("gpt-4o"))
    off = stage(upstream, ttl=None)
    await off(keyed())
    await off(keyed())
    assert len(upstream.requests) == 4


async def test_an_in_flight_repeat_waits_and_replays() -> None:
    gate, upstream = slow_upstream()
    handle = stage(upstream)
    tasks = [asyncio.create_task(handle(keyed())) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert len(upstream.requests) == 1
    assert sum(r.served is not None for r in responses) == 1
    assert sum(r.headers.get("idempotency") == REPLAY for r in responses) == 4


async def test_an_in_flight_repeat_with_another_body_is_a_conflict_at_once() -> None:
    gate, upstream = slow_upstream()
    handle = stage(upstream)
    first = asyncio.create_task(handle(keyed()))
    await asyncio.sleep(0.01)
    with pytest.raises(IdempotencyKeyReused):
        await asyncio.wait_for(handle(keyed(text="other")), TIMEOUT)
    gate.set()
    await asyncio.wait_for(first, TIMEOUT)


async def test_a_failure_is_never_kept_and_a_waiter_calls_itself() -> None:
    gate = asyncio.Event()
    outcomes: list[str] = ["fail", "ok", "ok"]

    async def flaky(request: ChatRequest) -> ChatResponse:
        await gate.wait()
        if outcomes.pop(0) == "fail":
            raise UpstreamUnavailable("down")
        return reply(request, "second", USAGE)

    upstream = FakeUpstream(flaky)
    handle = stage(upstream)
    first = asyncio.create_task(handle(keyed()))
    waiter = asyncio.create_task(handle(keyed()))
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(UpstreamUnavailable):
        await asyncio.wait_for(first, TIMEOUT)
    retried = await asyncio.wait_for(waiter, TIMEOUT)
    assert retried.served is not None  # it made the call the first could not
    assert len(upstream.requests) == 2
    replay = await handle(keyed())
    assert replay.headers == {"idempotency": REPLAY} and len(upstream.requests) == 2


async def test_a_waiter_that_leaves_does_not_disturb_the_first() -> None:
    gate, upstream = slow_upstream()
    handle = stage(upstream)
    first = asyncio.create_task(handle(keyed()))
    waiter = asyncio.create_task(handle(keyed()))
    await asyncio.sleep(0.01)
    waiter.cancel()
    gate.set()
    response = await asyncio.wait_for(first, TIMEOUT)
    assert response.served is not None and waiter.cancelled()


async def test_a_stream_is_replayed_as_the_same_events() -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ("a", "b", "c"), USAGE))
    handle = stage(upstream)
    for dialect in ("openai", "anthropic"):
        request = keyed(f"s-{dialect}", stream=True)
        request = dataclasses.replace(request, dialect=dialect)
        first = await collect(await handle(request))
        replay = await handle(request)
        assert replay.served is None and replay.headers == {"idempotency": REPLAY}
        again = await collect(replay)
        assert [e.raw for e in again] == [e.raw for e in first]
        assert [e.event for e in again] == [e.event for e in first]
        assert again[-1].data == first[-1].data  # parsed like events off the wire
        assert replay.stream_complete and replay.usage == USAGE
    assert len(upstream.requests) == 2


async def test_an_incomplete_stream_is_not_kept() -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ("a", "b"), USAGE, fail_after=1))
    handle = stage(upstream)
    with pytest.raises(StreamInterrupted):
        await collect(await handle(keyed(stream=True)))
    with pytest.raises(StreamInterrupted):
        await collect(await handle(keyed(stream=True)))
    assert len(upstream.requests) == 2


async def test_a_stream_the_app_left_is_not_kept() -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ("a", "b", "c"), USAGE))
    handle = stage(upstream)
    response = await handle(keyed(stream=True))
    assert response.stream is not None
    await response.stream.__anext__()  # type: ignore[attr-defined]
    await response.stream.aclose()  # type: ignore[attr-defined]
    again = await handle(keyed(stream=True))
    assert again.served is not None
    await collect(again)


async def test_answers_expire_after_their_ttl() -> None:
    now = [1000.0]
    store = MemoryCache(clock=lambda: now[0])
    upstream = answered()
    handle = stage(upstream, store, ttl=60)
    await handle(keyed())
    now[0] += 59
    assert (await handle(keyed())).headers == {"idempotency": REPLAY}
    now[0] += 2
    assert (await handle(keyed())).served is not None
    assert len(upstream.requests) == 2


class BrokenStore(MemoryCache):
    async def get(self, key: str) -> bytes | None:
        raise OSError("disk on fire")

    async def set(
        self, key: str, value: bytes, *, ttl_s: float | None = None, tag: str | None = None
    ) -> None:
        raise OSError("disk on fire")

    async def stats(self) -> CacheStats:
        raise OSError("disk on fire")


async def test_a_broken_store_means_calls_not_failures(caplog: pytest.LogCaptureFixture) -> None:
    upstream = answered()
    handle = stage(upstream, BrokenStore())
    await handle(keyed())
    response = await handle(keyed())
    assert response.served is not None and len(upstream.requests) == 2
    assert "lookup failed" in caplog.text and "not kept" in caplog.text


async def test_a_store_that_cannot_open_means_calls(caplog: pytest.LogCaptureFixture) -> None:
    async def cannot_open() -> None:
        raise OSError("read-only file system")

    upstream = answered()
    handle = idempotency_stage(Keeper(MemoryCache(), cannot_open), {None: DAY})(upstream)
    await handle(keyed())
    await handle(keyed())
    assert len(upstream.requests) == 2 and "cannot open" in caplog.text


async def test_an_answer_larger_than_the_bound_is_not_kept() -> None:
    upstream = FakeUpstream(lambda req: reply(req, "x" * 5000, USAGE))
    handle = stage(upstream, MemoryCache(max_value_bytes=4096, max_bytes=8192))
    await handle(keyed())
    await handle(keyed())
    assert len(upstream.requests) == 2


async def test_an_unreadable_record_is_a_miss() -> None:
    store = MemoryCache()
    request = keyed()
    await store.set(slot_of(None, "k-1"), b"{not json")
    upstream = answered()
    response = await stage(upstream, store)(request)
    assert response.served is not None
    with pytest.raises(CorruptRecord):
        Record.decode(b'{"v": 99, "dialect": "openai"}')


def test_slots_hide_the_key_and_fingerprints_ignore_key_order() -> None:
    slot = slot_of("tenant", "secret-key")
    assert "secret-key" not in slot and len(slot) < 100
    assert slot != slot_of(None, "secret-key")
    a = request_for("gpt-4o", temperature=0, max_tokens=5)
    b = dataclasses.replace(a, body=dict(reversed(list(a.body.items()))))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(dataclasses.replace(a, task="t"))


async def test_settings_the_store_and_per_task_switches(tmp_path: Path) -> None:
    settings = Settings(
        ledger={"path": str(tmp_path / "books.db")},
        levers={"idempotency": {"ttl_s": 60}},
        tasks={"free": {"idempotency": {"enabled": False}}},
    )
    assert ttls_of(settings) == {None: 60, "free": None}
    assert store_path(settings) == tmp_path / "books-idempotency.db"
    assert Settings().levers.idempotency.ttl_s == DAY  # the default: a day
    memory = Settings(levers={"idempotency": {"backend": "memory"}})
    assert isinstance(new_store(memory), MemoryCache)


def test_store_settings_cannot_differ_per_task() -> None:
    settings = Settings(tasks={"t": {"idempotency": {"backend": "memory"}}})
    with pytest.raises(ConfigError, match=r"\[tasks.t.idempotency\]: backend"):
        ttls_of(settings)


async def test_a_repeat_of_a_stream_in_flight_waits_for_its_end() -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req, ("a", "b", "c"), USAGE))
    handle = stage(upstream)
    first = await handle(keyed(stream=True))
    waiter = asyncio.create_task(handle(keyed(stream=True)))
    await asyncio.sleep(0.01)
    assert not waiter.done()  # the first stream has not ended: nothing to replay yet
    events = await asyncio.wait_for(collect(first), TIMEOUT)
    replay = await asyncio.wait_for(waiter, TIMEOUT)
    assert replay.headers == {"idempotency": REPLAY}
    assert [e.raw for e in await collect(replay)] == [e.raw for e in events]
    assert len(upstream.requests) == 1
