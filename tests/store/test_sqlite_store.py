"""What only the SQLite backend has to show: two processes, a shared file, a held lock,
other threads, large evictions, persistence and a disposable layout."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.ledger import LedgerStore, SqliteLedgerReader, build_report
from thrifty.store import SqliteCache, SqliteCounters
from thrifty.store import sqlite as sqlite_store

from ..ledger.conftest import make_row

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from thrifty.store import SqliteCache, SqliteCounters

    async def main(path, n):
        async with SqliteCounters(path) as counters, SqliteCache(path, max_entries=50) as cache:
            print("ready", flush=True)
            sys.stdin.readline()
            for i in range(n):
                await counters.incr("shared")
                await cache.set(f"child:{i}", b"c" * 100)
                await asyncio.sleep(0)

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def test_two_processes_share_counters_and_cache_bounds(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    n = 400
    async with SqliteCounters(path) as counters, SqliteCache(path, max_entries=50) as cache:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            str(path),
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            line = await asyncio.wait_for(child.stdout.readline(), 30)
            assert line == b"ready\n"
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            for i in range(n):
                await counters.incr("shared")
                await cache.set(f"parent:{i}", b"p" * 100)
                await asyncio.sleep(0)
            assert await asyncio.wait_for(child.wait(), 60) == 0
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert await counters.get("shared") == 2 * n  # no lost update
        stats = await cache.stats()
        assert stats.entries == 50  # the bound holds across both writers
        conn = sqlite3.connect(path)
        try:
            (rows, size) = conn.execute("SELECT count(*), sum(size) FROM cache").fetchone()
        finally:
            conn.close()
        assert (rows, size) == (stats.entries, stats.bytes)  # the running totals are exact


async def test_a_table_in_the_ledgers_file(tmp_path: Path) -> None:
    path = tmp_path / "thrifty.db"
    ledger = LedgerStore(path)
    await ledger.open()
    try:
        async with SqliteCache(path, table="memo_cache") as cache, SqliteCounters(path) as ctr:
            await ledger.record(make_row(cost_usd=Decimal("0.5"), saved_usd=Decimal(0)))
            await cache.set("k", b"v")
            await ctr.incr("k")
            await ledger.record(make_row(cost_usd=Decimal("0.25"), saved_usd=Decimal(0)))
            assert await cache.get("k") == b"v"
    finally:
        await ledger.close()
    report = await build_report(SqliteLedgerReader(path))
    assert report.totals.cost_usd == Decimal("0.75")


async def test_persists_and_totals_are_shared_between_instances(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteCache(path) as one:
        await one.set("a", b"12345")
        async with SqliteCache(path) as two:
            assert await two.get("a") == b"12345"
            assert (await two.stats()).entries == 1
            assert (await two.stats()).hits == 1  # per instance
            assert (await one.stats()).hits == 0
    async with SqliteCache(path) as again:
        assert await again.get("a") == b"12345"


async def test_another_layout_version_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteCache(path) as cache:
        await cache.set("a", b"1")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE cache_meta SET version = 999")
    conn.commit()
    conn.close()
    async with SqliteCache(path) as cache:
        assert await cache.get("a") is None
        await cache.set("a", b"2")
        assert (await cache.stats()).entries == 1


async def test_a_held_write_lock_never_blocks_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteCache(path) as cache, SqliteCounters(path) as counters:
        await cache.set("a", b"1")
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            writes = asyncio.gather(cache.set("b", b"2"), counters.incr("n"))
            ticks = 0
            for _ in range(20):  # the loop keeps running while the writes wait
                await asyncio.sleep(0.005)
                ticks += 1
            assert not writes.done()
            assert await cache.get("a") == b"1"  # reads go on (WAL)
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        await asyncio.wait_for(writes, 10)
        assert ticks == 20
        assert await cache.get("b") == b"2"
        assert await counters.get("n") == 1


async def test_calls_from_another_thread_use_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteCache(path) as cache, SqliteCounters(path) as counters:
        results: list[object] = []

        def elsewhere() -> None:
            async def run() -> None:
                await cache.set("t", b"from a thread")
                results.append(await counters.incr("t", 2))
                results.append(await cache.get("t"))

            asyncio.run(run())

        thread = threading.Thread(target=elsewhere)
        thread.start()
        await asyncio.to_thread(thread.join, 30)
        assert results == [2, b"from a thread"]
        assert await counters.get("t") == 2


async def test_a_large_eviction_finishes_off_the_loop(tmp_path: Path) -> None:
    async with SqliteCache(
        tmp_path / "c.db", max_entries=10_000, max_bytes=10_000, max_value_bytes=9_000
    ) as cache:
        for i in range(600):
            await cache.set(f"{i:03d}", b"x" * 11)  # 14 bytes each, 8,400 in all
        evicted_before = (await cache.stats()).evictions
        await cache.set("big", b"y" * 9_000)  # needs > INLINE_EVICT evictions
        stats = await cache.stats()
        assert stats.bytes <= 10_000
        assert stats.evictions - evicted_before > sqlite_store.INLINE_EVICT
        assert await cache.get("big") == b"y" * 9_000
        assert await cache.get("599") == b"x" * 11  # the most recent small ones stay


async def test_lru_recency_is_refreshed_at_most_every_touch_interval(tmp_path: Path) -> None:
    now = [1_000.0]
    async with SqliteCache(
        tmp_path / "c.db", max_entries=2, touch_interval_s=60, clock=lambda: now[0]
    ) as cache:
        await cache.set("a", b"1")
        now[0] += 1
        await cache.set("b", b"2")
        now[0] += 1
        assert await cache.get("a") == b"1"  # used 2 s ago: no write, "a" stays oldest
        await cache.set("c", b"3")
        assert await cache.get("a") is None
        now[0] += 120
        assert await cache.get("b") == b"2"  # over a minute old: recency refreshed
        now[0] += 1
        await cache.set("d", b"4")
        assert await cache.get("b") == b"2" and await cache.get("c") is None


def test_bad_table_names_and_bounds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table name"):
        SqliteCache(tmp_path / "c.db", table="cache; DROP TABLE requests")
    with pytest.raises(ValueError, match="max_value_bytes"):
        SqliteCache(tmp_path / "c.db", max_bytes=10, max_value_bytes=11)


async def test_use_before_open_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await SqliteCounters(tmp_path / "c.db").get("k")
