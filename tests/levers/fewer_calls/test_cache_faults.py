"""The exact cache when storage goes wrong: a store error, an unreadable entry or a store
that cannot be opened is a miss (logged and counted), never a failed request nor a wrong
answer.  Also: the lever as the runtime builds it (SQLite file next to the ledger)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.levers.fewer_calls.test_cache import settled
from thrifty.config import Settings
from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.cache import ExactCache
from thrifty.levers.fewer_calls.cache_policy import policies_for
from thrifty.levers.fewer_calls.cache_store import Tally, cache_path, counter_key
from thrifty.runtime import Thrifty
from thrifty.store import MemoryCache, MemoryCounters
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Usage

USAGE = Usage(input_tokens=10, output_tokens=5)


class FlakyCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.fail_get = self.fail_set = False

    async def get(self, key: str) -> bytes | None:
        if self.fail_get:
            raise OSError("disk I/O error")
        return await super().get(key)

    async def set(self, key: str, value: bytes, **kw: Any) -> None:
        if self.fail_set:
            raise OSError("database is locked")
        await super().set(key, value, **kw)


def counting() -> tuple[FakeUpstream, list[int]]:
    calls: list[int] = []

    def answer(request: ChatRequest) -> ChatResponse:
        calls.append(1)
        return reply(request, f"answer {len(calls)}", USAGE)

    return FakeUpstream(answer), calls


def det(**kw: Any) -> ChatRequest:
    return request_for("gpt-4o", "hello", temperature=0, **kw)


async def test_a_failing_lookup_is_a_miss_and_a_failing_write_loses_only_the_entry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, tally = FlakyCache(), Tally(None)
    upstream, calls = counting()
    handler = settled(ExactCache(store, policies_for(Settings()), tally), upstream)
    store.fail_set = True
    first = await handler(det())
    assert first.headers["cache"] == "miss" and first.body is not None
    store.fail_set, store.fail_get = False, True
    with caplog.at_level(logging.WARNING, logger="thrifty.cache"):
        second = await handler(det())
    assert second.headers["cache"] == "miss" and second.served is not None
    assert "lookup failed" in caplog.text
    store.fail_get = False
    third = await handler(det())
    assert third.headers["cache"] == "hit"  # the second answer was stored
    assert third.body is not None
    assert third.body["choices"][0]["message"]["content"] == "answer 2"
    assert tally["error"] == 2 and len(calls) == 2


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff not json",
        b"[]",
        b'{"v": 99}',
        b'{"v": 1, "dialect": "openai", "model": "m", "stored_at": 1, "usage": [1], "body": {}}',
        b'{"v": 1, "dialect": "openai", "model": "m", "stored_at": 1,'
        b' "usage": [1, 2, 5, 0, 0, 0], "body": {"choices": []}}',  # cache reads > input
        b'{"v": 1, "dialect": "klingon", "model": "m", "stored_at": 1,'
        b' "usage": [1, 2, 0, 0, 0, 0], "body": {}}',
        b'{"v": 1, "dialect": "openai", "model": "m", "stored_at": 1,'
        b' "usage": [1, 2, 0, 0, 0, 0], "body": {"choices": [{"finish_reason": "length"}]}}',
    ],
)
async def test_a_corrupt_entry_is_dropped_and_answered_anew(garbage: bytes) -> None:
    store, tally = MemoryCache(), Tally(None)
    upstream, calls = counting()
    handler = settled(ExactCache(store, policies_for(Settings()), tally), upstream)
    await handler(det())
    [key] = [k.decode() for k in store._entries]
    await store.set(key, garbage)
    response = await handler(det())
    assert response.headers["cache"] == "miss" and response.body is not None
    assert response.body["choices"][0]["message"]["content"] == "answer 2"
    assert tally["corrupt"] == 1
    assert (await handler(det())).headers["cache"] == "hit"  # stored again, readable
    assert len(calls) == 2


async def test_counts_reach_the_shared_counters_and_survive_their_failure() -> None:
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    counters = MemoryCounters()
    tally = Tally(counters, clock=clock)
    await tally.add("hit", "faq")
    assert await counters.get(counter_key("hit", "*")) == 0  # not yet due
    clock.now = 2.0
    await tally.add("miss", None)
    assert await counters.get(counter_key("hit", "*")) == 1
    assert await counters.get(counter_key("hit", "faq")) == 1
    assert await counters.get(counter_key("miss", "")) == 1

    async def broken(key: str, by: int = 1, **kw: Any) -> int:
        raise OSError("gone")

    counters.incr = broken  # type: ignore[method-assign]
    clock.now = 4.0
    await tally.add("hit", "faq")  # the write fails: kept for later, no error
    del counters.incr
    await tally.flush()
    assert await counters.get(counter_key("hit", "*")) == 2


async def test_task_names_from_requests_cannot_grow_the_counts_without_bound() -> None:
    counters = MemoryCounters()
    tally = Tally(counters, max_tasks=2)
    for task in ("a", "b", "c", "d", None):
        await tally.add("hit", task)
    await tally.flush()
    assert tally["hit"] == 5 and await counters.get(counter_key("hit", "*")) == 5
    assert [tally.counts[("hit", t)] for t in ("a", "b", "c", None)] == [1, 1, 0, 0]
    assert await counters.get(counter_key("hit", "c")) == 0
    assert len(tally.counts) == 3


def test_a_task_cannot_set_the_shared_store() -> None:
    settings = Settings(tasks={"t": {"cache": {"max_entries": 5}}})
    with pytest.raises(ConfigError, match=r"\[tasks.t.cache\] sets max_entries"):
        policies_for(settings)


def test_the_store_lives_next_to_the_ledger_unless_configured(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.db"
    assert cache_path(Settings(ledger={"path": ledger})) == tmp_path / "spend-cache.db"
    mine = tmp_path / "elsewhere.db"
    assert cache_path(Settings(levers={"cache": {"path": mine}})) == mine


BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


async def test_the_runtime_builds_the_cache_on_sqlite_by_default(tmp_path: Path) -> None:
    settings = Settings(ledger={"path": tmp_path / "thrifty.db"}, simulate=True)
    async with Thrifty(settings, environ={}) as thrifty:
        first = await thrifty.chat(BODY)
        second = await thrifty.chat(BODY)
    assert (first.headers["cache"], second.headers["cache"]) == ("miss", "hit")
    assert (tmp_path / "thrifty-cache.db").stat().st_mode & 0o777 == 0o600  # answers in clear
    async with Thrifty(settings, environ={}) as thrifty:  # kept across restarts
        assert (await thrifty.chat(BODY)).headers["cache"] == "hit"


async def test_a_store_that_cannot_be_opened_makes_every_request_a_miss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "cache.db"
    broken.write_bytes(b"this is not a database" * 100)
    settings = Settings(
        ledger={"path": tmp_path / "thrifty.db"},
        levers={"cache": {"path": broken}},
        simulate=True,
    )
    with caplog.at_level(logging.WARNING, logger="thrifty.cache"):
        async with Thrifty(settings, environ={}) as thrifty:
            first = await thrifty.chat(BODY)
            await asyncio.sleep(0.2)  # its write (2 ms later) failed: no longer in memory
            second = await thrifty.chat(BODY)
    assert "cannot open" in caplog.text
    assert "could not store an answer" in caplog.text
    assert first.headers["cache"] == second.headers["cache"] == "miss"
    assert first.body is not None and second.body is not None


async def test_the_lever_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings(
        ledger={"path": tmp_path / "thrifty.db"},
        levers={"cache": {"enabled": False}},
        simulate=True,
    )
    async with Thrifty(settings, environ={}) as thrifty:
        response = await thrifty.chat(BODY)
    assert "cache" not in response.headers
    assert not (tmp_path / "thrifty-cache.db").exists()
