from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.errors import ConfigError
from thrifty.ledger import LedgerStore, LedgerWriteError, read_rows
from thrifty.types import Usage

from .conftest import make_row


async def test_round_trip_is_exact(store: LedgerStore) -> None:
    row = make_row(
        usage=Usage(
            input_tokens=5000,
            output_tokens=700,
            cache_read_tokens=1000,
            cache_write_5m_tokens=200,
            cache_write_1h_tokens=300,
            reasoning_tokens=100,
        ),
        cost_usd=Decimal("0.000000123456"),
        baseline_usd=Decimal("1234.567890123456"),
        savings={"routing": Decimal("0.1"), "prompt_cache": Decimal("-0.000000000001")},
        stream=True,
        error="upstream_timeout: took too long",
        detail="routed to mini",
    )
    other = make_row(tenant=None, task=None, requested_model=None, model=None, provider=None)
    await store.record(row)
    await store.record(other)
    assert store.rows() == [row, other]
    got = store.rows()[0]
    assert got.cost_usd == Decimal("0.000000123456")
    assert got.savings == {"routing": Decimal("0.1"), "prompt_cache": Decimal("-1e-12")}


async def test_money_is_stored_as_integer_picodollars(store: LedgerStore, db_path: Path) -> None:
    await store.record(make_row(request_id="r1", cost_usd=Decimal("0.000000123456")))
    with sqlite3.connect(db_path) as conn:
        cost, saved = conn.execute(
            "SELECT cost_pusd, saved_pusd FROM requests WHERE request_id = 'r1'"
        ).fetchone()
        lever = conn.execute("SELECT lever, saved_pusd FROM savings").fetchall()
    conn.close()
    assert (cost, saved) == (123_456, 2_376_543_211)
    assert lever == [("routing", 2_376_543_211)]


async def test_unpriced_is_null_never_zero(store: LedgerStore, db_path: Path) -> None:
    row = make_row(
        request_id="u1", cost_usd=None, baseline_usd=None, savings={}, price_source="unpriced"
    )
    await store.record(row)
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT cost_pusd, baseline_pusd FROM requests").fetchone()
    conn.close()
    assert stored == (None, None)
    assert store.rows()[0].cost_usd is None


async def test_200_concurrent_writers_all_commit(store: LedgerStore) -> None:
    rows = [make_row(ts=1_700_000_000.0 + i) for i in range(200)]
    await asyncio.gather(*(store.record(row) for row in rows))
    assert store.rows() == rows


async def test_rows_of_one_loop_turn_share_a_transaction(
    store: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first row of a turn commits at once; the rest of that turn commit together at
    the start of the next, and each caller returns only once its own row is committed."""
    transactions: list[int] = []
    commit_now = LedgerStore._commit_now

    def counted(self: LedgerStore, conn: sqlite3.Connection, items: list[Any]) -> None:
        transactions.append(len(items))
        commit_now(self, conn, items)

    monkeypatch.setattr(LedgerStore, "_commit_now", counted)
    rows = [make_row(ts=1_700_000_000.0 + i) for i in range(50)]
    committed: list[int] = []

    async def record(i: int) -> None:
        await store.record(rows[i])
        committed.append(len(store.rows()))

    await asyncio.gather(*(record(i) for i in range(50)))
    assert transactions == [1, 49]
    assert all(count >= 1 for count in committed) and committed[-1] == 50
    assert store.rows() == rows
    # A row alone in its turn is committed at once, in its own transaction.
    transactions.clear()
    await store.record(make_row(ts=1_800_000_000.0))
    assert transactions == [1]
    assert len(store.rows()) == 51


async def test_rows_held_for_the_next_turn_are_committed_by_close(db_path: Path) -> None:
    store = LedgerStore(db_path)
    await store.open()
    rows = [make_row(ts=1_700_000_000.0 + i) for i in range(3)]
    pending = [asyncio.ensure_future(store.record(row)) for row in rows]
    await asyncio.sleep(0)  # all three recorded: the first committed, two held
    await store.close()
    await asyncio.gather(*pending)
    assert read_rows(db_path) == rows


async def test_rows_filters_by_time(store: LedgerStore) -> None:
    rows = [make_row(ts=float(t)) for t in (10, 20, 30)]
    for row in rows:
        await store.record(row)
    assert store.rows(since=20) == rows[1:]
    assert store.rows(until=20) == rows[:1]
    assert store.rows(since=15, until=25) == rows[1:2]


async def test_event_loop_keeps_running_while_writing(db_path: Path) -> None:
    """50 concurrent writers record 2000 rows (yielding between rows, as requests do):
    a ticker must never wait long, since each inline commit is one short WAL append."""
    store = LedgerStore(db_path)
    await store.open()
    gaps: list[float] = []
    writing = True

    async def ticker() -> None:
        last = time.perf_counter()
        while writing:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def writer(worker: int) -> None:
        for i in range(40):
            await store.record(make_row(ts=float(worker * 100 + i)))
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(writer(w) for w in range(50)))
    finally:
        writing = False
        await ticking
        await store.close()
    assert len(read_rows(db_path)) == 2000
    assert len(gaps) >= 30
    # One loop turn runs up to 50 writers' commits; generous bound for a shared machine.
    assert sorted(gaps)[len(gaps) // 2] < 0.05


def _hold_write_lock(db_path: Path, seconds: float, locked: threading.Event) -> None:
    """Another process's writer: holds the database's write lock for ``seconds``."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def test_a_locked_database_does_not_block_the_loop(db_path: Path) -> None:
    """While another writer holds the lock for 300 ms, record() waits (in the writer
    thread) but the event loop keeps running; the row lands once the lock is free."""
    store = LedgerStore(db_path)
    await store.open()
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db_path, 0.3, locked))
    holder.start()
    await asyncio.to_thread(locked.wait)
    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await store.record(make_row(request_id="after-the-lock"))
    elapsed = time.perf_counter() - started
    ticking.cancel()
    await asyncio.to_thread(holder.join)
    await store.close()
    assert elapsed >= 0.2  # it really waited for the lock...
    assert len(gaps) >= 10
    assert max(gaps) < 0.15  # ...without stalling the loop
    assert [r.request_id for r in read_rows(db_path)] == ["after-the-lock"]


async def test_rows_from_another_event_loop_go_through_the_writer_thread(db_path: Path) -> None:
    store = LedgerStore(db_path)
    await store.open()
    try:
        await asyncio.to_thread(asyncio.run, store.record(make_row(request_id="other-loop")))
        await store.record(make_row(request_id="own-loop"))
    finally:
        await store.close()
    assert sorted(r.request_id for r in read_rows(db_path)) == ["other-loop", "own-loop"]


async def test_a_bad_row_fails_alone_and_surfaces(store: LedgerStore) -> None:
    first = make_row(request_id="dup")
    await store.record(first)
    good = [make_row() for _ in range(5)]
    results = await asyncio.gather(
        *(store.record(row) for row in good[:2]),
        store.record(make_row(request_id="dup")),
        *(store.record(row) for row in good[2:]),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [
        type(None),
        type(None),
        LedgerWriteError,
        type(None),
        type(None),
        type(None),
    ]
    error = results[2]
    assert isinstance(error, LedgerWriteError)
    assert isinstance(error.__cause__, sqlite3.IntegrityError)
    assert [r.request_id for r in store.rows()] == ["dup", *(r.request_id for r in good)]


async def test_a_failing_database_fails_every_caller(store: LedgerStore, db_path: Path) -> None:
    await store.record(make_row())
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE savings")
    conn.close()
    results = await asyncio.gather(
        *(store.record(make_row()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, LedgerWriteError) for r in results), results
    # the writer survives: once the table is back, writes succeed again
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TABLE savings (request_id TEXT NOT NULL, lever TEXT NOT NULL,"
            " saved_pusd INTEGER NOT NULL, PRIMARY KEY (request_id, lever)) WITHOUT ROWID"
        )
    conn.close()
    await store.record(make_row())
    assert len(store.rows()) == 2


async def test_invalid_money_is_rejected_before_queueing(store: LedgerStore) -> None:
    with pytest.raises(ValueError):
        await store.record(make_row(cost_usd=Decimal("NaN")))
    assert store.rows() == []


async def test_close_drains_the_queue(db_path: Path) -> None:
    store = LedgerStore(db_path)
    await store.open()
    rows = [make_row() for _ in range(500)]
    tasks = [asyncio.create_task(store.record(row)) for row in rows]
    await asyncio.sleep(0)  # every task has queued its row
    await store.close()
    await asyncio.gather(*tasks)
    assert len(read_rows(db_path)) == 500
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="not open"):
        await store.record(make_row())


async def test_cancelled_caller_does_not_withdraw_the_row(db_path: Path) -> None:
    """Inline commits finish before record() first suspends; the one place a caller can be
    cancelled mid-write is the slow path (database locked): the row must still land."""
    store = LedgerStore(db_path)
    await store.open()
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db_path, 0.2, locked))
    holder.start()
    await asyncio.to_thread(locked.wait)
    task = asyncio.create_task(store.record(make_row(request_id="cancelled")))
    await asyncio.sleep(0.02)
    assert not task.done()  # waiting for the lock, in the writer thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(holder.join)
    await store.record(make_row(request_id="after"))
    await store.close()
    assert sorted(r.request_id for r in read_rows(db_path)) == ["after", "cancelled"]


async def test_record_before_open_raises(db_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await LedgerStore(db_path).record(make_row())


def test_reading_a_missing_ledger_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(ConfigError, match=r"nope\.db"):
        read_rows(missing)
    with pytest.raises(ConfigError, match=r"nope\.db"):
        LedgerStore(missing).rows()
    assert not missing.exists()


async def test_open_on_an_unusable_path_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not-a-db"):
        await LedgerStore(bad).open()


_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from decimal import Decimal
    from thrifty.ledger import LedgerRow, LedgerStore
    from thrifty.types import Usage

    async def main(path, n, how):
        store = LedgerStore(path)
        await store.open()
        for i in range(n):
            await store.record(LedgerRow(
                request_id=f"kill-{i}", ts=float(i), tenant=None, task=None,
                dialect="openai", endpoint="library", requested_model="m", model="m",
                provider="p", stream=False, usage=Usage(input_tokens=i),
                cost_usd=Decimal("0.000000123456"), baseline_usd=None,
                savings={"memo": Decimal(i)}, price_source="override",
                latency_ms=1.0, status=200,
            ))
        # the last record() has returned: die without closing anything
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(0)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    """
)


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_committed_rows_survive_a_hard_kill(db_path: Path, how: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db_path), "50", how],
        capture_output=True,
        timeout=60,
        check=False,
    )
    expected = -signal.SIGKILL if how == "kill" else 0
    assert proc.returncode == expected, proc.stderr.decode()
    rows = read_rows(db_path)
    assert [r.request_id for r in rows] == [f"kill-{i}" for i in range(50)]
    assert rows[-1].savings == {"memo": Decimal(49)}
    assert rows[-1].cost_usd == Decimal("0.000000123456")


async def test_stored_text_is_bounded_whatever_the_client_or_upstream_sends(
    store: LedgerStore,
) -> None:
    from thrifty.ledger.row import MAX_NAME, MAX_TEXT, CallRecord
    from thrifty.types import Call, Cost

    huge = "x" * 100_000
    tools = tuple((f"kind{i}-{huge}", i) for i in range(40))
    call = Call(model=huge, provider=huge, usage=Usage(input_tokens=1), server_tools=tools)
    row = make_row(
        request_id="big",
        tenant=huge,
        task=huge,
        requested_model=huge,
        requested_alias=huge,
        model=huge,
        service_tier=huge,
        error=huge,
        detail=huge,
        calls=(CallRecord(call, Cost(usd=Decimal(0), source="override")),),
    )
    await store.record(row)
    (got,) = store.rows()
    for name in ("tenant", "task", "requested_model", "requested_alias", "model", "service_tier"):
        assert len(getattr(got, name)) == MAX_NAME, name
    assert len(got.error or "") == MAX_TEXT and len(got.detail or "") == MAX_TEXT
    kinds = dict(got.calls[0].call.server_tools)
    assert len(kinds) == 16 and all(len(kind) <= 64 for kind in kinds)
