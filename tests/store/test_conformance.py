"""The Cache and Counters protocols, run against every backend in conftest.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from thrifty.store import MAX_KEY_BYTES, Cache, Counters

from .conftest import FakeClock

MakeCache = Callable[..., Awaitable[Cache]]


async def test_is_a_cache(make_cache: MakeCache) -> None:
    assert isinstance(await make_cache(), Cache)


async def test_get_set_delete(make_cache: MakeCache) -> None:
    cache = await make_cache()
    assert await cache.get("a") is None
    await cache.set("a", b"one")
    assert await cache.get("a") == b"one"
    await cache.set("a", b"two")  # replaces
    assert await cache.get("a") == b"two"
    await cache.set("empty", b"")
    assert await cache.get("empty") == b""
    assert await cache.delete("a") is True
    assert await cache.delete("a") is False
    assert await cache.get("a") is None
    stats = await cache.stats()
    assert (stats.entries, stats.bytes) == (1, len("empty"))
    assert (stats.hits, stats.misses) == (3, 2)


async def test_ttl_expiry(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = await make_cache()
    await cache.set("short", b"x", ttl_s=10)
    await cache.set("forever", b"y")
    clock.advance(9.999)
    assert await cache.get("short") == b"x"
    clock.advance(0.001)
    assert await cache.get("short") is None  # expires at exactly ttl_s
    clock.advance(10**6)
    assert await cache.get("forever") == b"y"
    await cache.set("short", b"again", ttl_s=1)  # a new entry, a new ttl
    assert await cache.get("short") == b"again"
    assert (await cache.stats()).expired >= 1
    with pytest.raises(ValueError):
        await cache.set("bad", b"x", ttl_s=0)


async def test_eviction_at_the_entry_bound_is_lru(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = await make_cache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, b"v")
        clock.advance(1)
    assert await cache.get("a") == b"v"  # "a" is now the most recently used
    clock.advance(1)
    await cache.set("d", b"v")
    assert await cache.get("b") is None  # the least recently used went
    assert [await cache.get(k) for k in ("a", "c", "d")] == [b"v"] * 3
    stats = await cache.stats()
    assert stats.entries == 3
    assert stats.evictions == 1
    # Replacing an entry at the bound evicts nothing.
    await cache.set("a", b"w")
    assert (await cache.stats()).entries == 3
    assert await cache.get("a") == b"w"


async def test_eviction_at_the_byte_bound(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = await make_cache(max_bytes=100, max_value_bytes=60)
    for key in ("k1", "k2", "k3"):
        await cache.set(key, b"x" * 38)  # 40 bytes with the key
        clock.advance(1)
        assert (await cache.stats()).bytes <= 100
    assert await cache.get("k1") is None
    assert await cache.get("k3") is not None
    await cache.set("big", b"y" * 60)  # 63 bytes: only it and nothing else of 40 fits
    stats = await cache.stats()
    assert stats.bytes == 63 and stats.entries == 1
    with pytest.raises(ValueError, match="exceeds"):
        await cache.set("huge", b"z" * 61)
    assert await cache.get("big") == b"y" * 60  # a refused set changes nothing


async def test_expired_entries_go_before_live_ones(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = await make_cache(max_entries=2)
    await cache.set("old-but-live", b"1")
    clock.advance(1)
    await cache.set("recent-but-expired", b"2", ttl_s=1)
    clock.advance(5)
    await cache.set("new", b"3")
    assert await cache.get("old-but-live") == b"1"
    assert await cache.get("new") == b"3"
    assert (await cache.stats()).evictions == 0


async def test_clear_by_prefix_tag_and_all(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.set("ns:a", b"1", tag="summarise")
    await cache.set("ns:b", b"2", tag="classify")
    await cache.set("ns;c", b"3", tag="summarise")  # ';' sorts right after ':'
    await cache.set("nsd", b"4")
    await cache.set("other", b"5", tag="summarise")
    await cache.set("\U0010ffff\U0010ffff", b"6")
    assert await cache.clear(prefix="ns:", tag="summarise") == 1
    assert await cache.get("ns:b") == b"2"
    assert await cache.clear(prefix="ns:") == 1
    assert await cache.get("ns;c") == b"3" and await cache.get("nsd") == b"4"
    assert await cache.clear(tag="summarise") == 2
    assert await cache.get("other") is None
    assert await cache.clear(prefix="\U0010ffff") == 1
    assert await cache.clear() == 1  # "nsd"
    assert (await cache.stats()).entries == 0
    assert (await cache.stats()).bytes == 0


async def test_keys_and_values_are_bounded(make_cache: MakeCache) -> None:
    cache = await make_cache(max_value_bytes=10)
    longest = "é" * (MAX_KEY_BYTES // 2)
    await cache.set(longest, b"ok")
    assert await cache.get(longest) == b"ok"
    for bad in ("", longest + "x"):
        with pytest.raises(ValueError):
            await cache.set(bad, b"v")
        with pytest.raises(ValueError):
            await cache.get(bad)
    with pytest.raises(ValueError):
        await cache.set("k", b"x" * 11)
    with pytest.raises(TypeError):
        await cache.set("k", "text")  # type: ignore[arg-type]


# -- counters ------------------------------------------------------------------------


async def test_is_counters(counters: Counters) -> None:
    assert isinstance(counters, Counters)


async def test_counters_add_up(counters: Counters) -> None:
    assert await counters.get("n") == 0
    assert await counters.incr("n") == 1
    assert await counters.incr("n", 5) == 6
    assert await counters.incr("n", -2) == 4
    assert await counters.get("n") == 4
    assert await counters.get("other") == 0
    assert await counters.delete("n") is True
    assert await counters.delete("n") is False
    assert await counters.get("n") == 0
    with pytest.raises(TypeError):
        await counters.incr("n", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await counters.incr("x" * (MAX_KEY_BYTES + 1))


async def test_counters_in_fixed_windows(counters: Counters, clock: FakeClock) -> None:
    assert await counters.incr("rate", window_s=10) == 1
    clock.advance(6)
    assert await counters.incr("rate", window_s=10) == 2  # same window: not extended
    clock.advance(3.9)
    assert await counters.get("rate") == 2
    clock.advance(0.1)  # 10 s after the first increment: the window is over
    assert await counters.get("rate") == 0
    assert await counters.incr("rate", window_s=10) == 1  # a new window starts
    clock.advance(9)
    assert await counters.get("rate") == 1


async def test_debounce_fires_once_per_window(counters: Counters, clock: FakeClock) -> None:
    fired = []
    for second in range(25):
        if await counters.incr("alert:budget", window_s=10) == 1:
            fired.append(second)
        clock.advance(1)
    assert fired == [0, 10, 20]


async def test_counter_without_window_never_resets(counters: Counters, clock: FakeClock) -> None:
    await counters.incr("total", 3)
    clock.advance(10**9)
    assert await counters.get("total") == 3
