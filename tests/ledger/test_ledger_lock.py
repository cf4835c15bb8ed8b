"""Another process holds the ledger's write lock: rows are spooled, never lost, never doubled."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path

from thrifty.ledger import LedgerStore, read_rows
from thrifty.ledger.store import spool_path

from .conftest import make_row
from .lock_kit import hold_lock_in_another_process, stop


def _spooled(db_path: Path) -> int:
    path = spool_path(db_path)
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute("SELECT count(*) FROM spool").fetchone()
        return int(count)
    finally:
        conn.close()


async def _wait_for_rows(db_path: Path, n: int, within: float) -> None:
    deadline = time.monotonic() + within
    for _ in range(int(within / 0.1)):
        if len(read_rows(db_path)) >= n or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def _wait_for_empty_spool(db_path: Path, within: float) -> None:
    """The writer commits spooled rows to the ledger, then empties the spool in a second
    step: a reader can see the rows a moment before the spool is empty."""
    for _ in range(int(within / 0.1)):
        if not _spooled(db_path):
            return
        await asyncio.sleep(0.1)


async def test_lock_held_past_the_old_failure_point_loses_no_row(db_path: Path) -> None:
    """The lock is held 12 s (a row used to fail with ledger_write_failed after ~10 s):
    every record() returns promptly, and every row lands in the ledger exactly once
    after the lock clears, without closing the store."""
    store = LedgerStore(db_path, lock_wait_s=0.2)
    await store.open()
    holder = hold_lock_in_another_process(db_path, 12.0)
    try:
        rows = [make_row(request_id=f"locked-{i}") for i in range(12)]
        latencies = []
        for row in rows:  # requests keep flowing while the lock is held
            started = time.perf_counter()
            await store.record(row)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.5)
        assert max(latencies) < 2.0, latencies
        # the holder is still there, past the old 10 s failure point
        started = time.perf_counter()
        await store.record(make_row(request_id="late"))
        assert time.perf_counter() - started < 2.0
        assert holder.poll() is None
        assert read_rows(db_path) == []
        assert _spooled(db_path) == 13
        await asyncio.to_thread(holder.wait, 30)
        await _wait_for_rows(db_path, 13, within=10)
        got = sorted(r.request_id for r in read_rows(db_path))
        assert got == sorted([r.request_id for r in rows] + ["late"])
        await _wait_for_empty_spool(db_path, within=10)
        assert _spooled(db_path) == 0
        assert {r.request_id: r for r in read_rows(db_path)}["locked-3"] == rows[3]
    finally:
        stop(holder)
        await store.close()


async def test_concurrent_rows_under_a_short_lock_are_spooled_then_applied(db_path: Path) -> None:
    store = LedgerStore(db_path, lock_wait_s=0.1)
    await store.open()
    holder = hold_lock_in_another_process(db_path, 2.0)
    try:
        rows = [make_row() for _ in range(50)]
        started = time.perf_counter()
        await asyncio.gather(*(store.record(row) for row in rows))
        assert time.perf_counter() - started < 1.5
        await asyncio.to_thread(holder.wait, 30)
        await store.record(make_row(request_id="after"))  # the fast path again
        await _wait_for_rows(db_path, 51, within=10)
    finally:
        stop(holder)
        await store.close()
    ids = [r.request_id for r in read_rows(db_path)]
    assert sorted(ids) == sorted([r.request_id for r in rows] + ["after"])
    assert _spooled(db_path) == 0


async def test_close_while_locked_leaves_the_spool_for_the_next_open(db_path: Path) -> None:
    store = LedgerStore(db_path, lock_wait_s=0.1)
    await store.open()
    holder = hold_lock_in_another_process(db_path, 60.0)
    try:
        await store.record(make_row(request_id="spooled"))
        await store.close()
        assert _spooled(db_path) == 1
    finally:
        stop(holder)
    again = LedgerStore(db_path)
    await again.open()
    await again.close()
    assert [r.request_id for r in read_rows(db_path)] == ["spooled"]
    assert _spooled(db_path) == 0


_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from decimal import Decimal
    from thrifty.ledger import LedgerRow, LedgerStore
    from thrifty.types import Usage

    async def main(path, n):
        store = LedgerStore(path, lock_wait_s=0.1)
        await store.open()
        for i in range(n):
            await store.record(LedgerRow(
                request_id=f"kill-{i}", ts=float(i), tenant=None, task=None,
                dialect="openai", endpoint="library", requested_model="m", model="m",
                provider="p", stream=False, usage=Usage(input_tokens=i),
                cost_usd=Decimal("0.000000123456"), baseline_usd=None,
                savings={"memo": Decimal(i)}, price_source="override",
                latency_ms=1.5, status=200,
            ))
        # every record() has returned (spooled, the ledger is locked): die at once
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def _hold_in_thread(db_path: Path, release: threading.Event, locked: threading.Event) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(60)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def test_kill_9_between_spooling_and_applying_loses_nothing(
    db_path: Path, tmp_path: Path
) -> None:
    first = LedgerStore(db_path)
    await first.open()
    await first.close()
    release, locked = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_in_thread, args=(db_path, release, locked))
    holder.start()
    try:
        locked.wait(10)
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _CHILD, str(db_path), "20"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        assert read_rows(db_path) == []
        assert _spooled(db_path) == 20
        saved = tmp_path / "spool-before-apply"
        shutil.copy(spool_path(db_path), saved)
    finally:
        release.set()
        holder.join()
    store = LedgerStore(db_path)
    await store.open()  # applies what the killed process spooled
    await store.close()
    rows = read_rows(db_path)
    assert [r.request_id for r in rows] == [f"kill-{i}" for i in range(20)]
    assert rows[7].usage.input_tokens == 7
    assert rows[7].savings == {"memo": Decimal(7)}
    assert _spooled(db_path) == 0
    # A crash after the ledger committed but before the spool was emptied: applying the
    # same spool again books nothing twice.
    shutil.copy(saved, spool_path(db_path))
    again = LedgerStore(db_path)
    await again.open()
    await again.close()
    assert [r.request_id for r in read_rows(db_path)] == [f"kill-{i}" for i in range(20)]
    assert _spooled(db_path) == 0
