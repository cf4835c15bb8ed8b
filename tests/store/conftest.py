"""Backends under test.  To check a new backend (Redis, PostgreSQL...), add a factory to
``CACHE_BACKENDS`` / ``COUNTER_BACKENDS``: every test in ``test_conformance.py`` then
runs against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from thrifty.store import Cache, Counters, MemoryCache, MemoryCounters, SqliteCache, SqliteCounters


class FakeClock:
    """Wall-clock stand-in: time moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CacheFactory = Callable[..., Awaitable[Cache]]
CounterFactory = Callable[..., Awaitable[Counters]]


async def _memory_cache(tmp_path: Path, clock: FakeClock, **bounds: Any) -> Cache:
    return MemoryCache(clock=clock, **bounds)


async def _sqlite_cache(tmp_path: Path, clock: FakeClock, **bounds: Any) -> Cache:
    # touch_interval_s=0: exact LRU, so the same eviction tests hold for every backend
    cache = SqliteCache(tmp_path / "store.db", clock=clock, touch_interval_s=0, **bounds)
    await cache.open()
    return cache


async def _memory_counters(tmp_path: Path, clock: FakeClock) -> Counters:
    return MemoryCounters(clock=clock)


async def _sqlite_counters(tmp_path: Path, clock: FakeClock) -> Counters:
    counters = SqliteCounters(tmp_path / "store.db", clock=clock)
    await counters.open()
    return counters


CACHE_BACKENDS = {"memory": _memory_cache, "sqlite": _sqlite_cache}
COUNTER_BACKENDS = {"memory": _memory_counters, "sqlite": _sqlite_counters}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(CACHE_BACKENDS))
async def make_cache(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Callable[..., Awaitable[Cache]]]:
    """``await make_cache(max_entries=..., ...)``: a fresh cache of the backend, closed
    after the test."""
    opened: list[Cache] = []
    factory = CACHE_BACKENDS[request.param]

    async def make(**bounds: Any) -> Cache:
        cache = await factory(tmp_path / f"c{len(opened)}", clock, **bounds)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        await cache.close()


@pytest.fixture(params=sorted(COUNTER_BACKENDS))
async def counters(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Counters]:
    made = await COUNTER_BACKENDS[request.param](tmp_path, clock)
    yield made
    await made.close()
