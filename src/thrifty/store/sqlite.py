"""SQLite cache and counters: one table (plus a small ``<table>_meta``) in a file of their
own or in a file shared with others (the ledger's, say).  Several processes may use the
same file at once: every change is one transaction under SQLite's write lock.

Event loop: like the ledger's fast path, small statements run inline on a connection
that never waits (``busy_timeout=0``, ``wal_autocheckpoint=0``: no fsync on the loop).
Measured on the 2-core dev box with other work running (``tests/store/bench_sqlite.py``,
20k operations, 2 kB values, a turn of the loop between operations), p50 / p99:
``get`` 23-27 / 55-85 µs, ``set`` at the entry bound (one eviction each) 165-215 / 430 µs
-1.3 ms, ``incr`` 70-75 / 140-160 µs; a mere hop to a worker thread (``to_thread`` of a
no-op) costs 126-130 / 400-600 µs, so the inline path is cheaper than any hand-off.
Rare outliers of a few ms come with the machine's load, in the thread hop as well.
Work that can be long runs in a worker thread on a second connection (``busy_timeout``
5 s), never on the loop:

* any statement that meets another process's write lock (retried there, so callers just
  wait a little longer instead of failing),
* :meth:`SqliteCache.clear` (in chunks of ``CLEAR_CHUNK`` rows per transaction),
* an eviction that needs more than ``INLINE_EVICT`` rows,
* WAL checkpoints (at most once a second, after writes).

Calls from a thread other than the one that opened the store always take the worker path.

Cache recency is approximate: ``get`` refreshes an entry's ``used_at`` only when it is
older than ``touch_interval_s`` (default 60 s), so a hot cache does not turn every hit
into a write; eviction drops expired entries first, then the least recently used.
Hits and misses are counted per instance (a shared counter would be a write per ``get``).

The tables are disposable: if a table was made by another layout version, it is
dropped and made again (a cache or a rate counter may always be lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from thrifty.store.memory import Clock, check_bounds, check_by, check_ttl, check_value
from thrifty.store.protocols import CacheStats, check_key

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
CHECKPOINT_EVERY_S = 1.0
INLINE_EVICT = 256  # rows an inline set() may evict before handing over to the thread
CLEAR_CHUNK = 2000
PURGE_EVERY = 64  # every 64th write drops up to PURGE_BATCH expired rows in passing
PURGE_BATCH = 16
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Busy(Exception):
    """The inline connection met a lock: run the operation on the worker path."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


def _connect(path: Path, *, busy_timeout_ms: int, worker: bool) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=not worker)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # WAL switch may wait
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not worker:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
    except BaseException:
        conn.close()
        raise
    return conn


def _prefix_range(prefix: bytes) -> tuple[bytes, bytes | None]:
    """``[low, high)`` holding exactly the byte strings that start with ``prefix``."""
    stem = prefix.rstrip(b"\xff")
    if not stem:
        return prefix, None
    return prefix, stem[:-1] + bytes([stem[-1] + 1])


class _SqliteBacked:
    """Connections, the inline/worker split and checkpoints, shared by both stores."""

    _VERSION = 1

    def __init__(self, path: str | os.PathLike[str], table: str, clock: Clock) -> None:
        if not _TABLE_NAME.match(table):
            raise ValueError(f"table name must match {_TABLE_NAME.pattern}, got {table!r}")
        self._path = Path(path)
        self._table = table
        self._clock = clock
        self._fast: sqlite3.Connection | None = None
        self._owner: int | None = None
        self._worker: sqlite3.Connection | None = None
        self._worker_lock = threading.Lock()
        self._checkpoint_due = 0.0
        self._checkpoint: asyncio.Future[None] | None = None

    @property
    def path(self) -> Path:
        return self._path

    def _schema(self) -> tuple[str, ...]:
        raise NotImplementedError

    async def open(self) -> None:
        """Connect (WAL, synchronous=NORMAL) and create the tables if needed."""
        if self._worker is not None:
            raise RuntimeError(f"{type(self).__name__}.open() called twice")
        self._worker = await asyncio.to_thread(
            _connect, self._path, busy_timeout_ms=BUSY_TIMEOUT_MS, worker=True
        )
        try:
            await self._in_worker(self._create)
            self._fast = _connect(self._path, busy_timeout_ms=0, worker=False)
        except BaseException:
            self._worker.close()
            self._worker = None
            raise
        self._owner = threading.get_ident()

    async def close(self) -> None:
        """Finish a running checkpoint and close the connections.  Idempotent."""
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
            self._checkpoint = None
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        if self._worker is not None:
            worker, self._worker = self._worker, None
            with self._worker_lock:
                worker.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _create(self, conn: sqlite3.Connection) -> None:
        meta = f"{self._table}_meta"
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (meta,)
            ).fetchone()
            version = (
                conn.execute(f"SELECT version FROM {meta} WHERE id = 0").fetchone()
                if exists
                else None
            )
            if version is None or version[0] != self._VERSION:
                conn.execute(f"DROP TABLE IF EXISTS {self._table}")
                conn.execute(f"DROP TABLE IF EXISTS {meta}")
                for statement in self._schema():
                    conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- running statements ---------------------------------------------------------

    def _inline_conn(self) -> sqlite3.Connection | None:
        if self._worker is None:
            raise RuntimeError(f"{type(self).__name__} is not open (call await .open())")
        if self._fast is None or threading.get_ident() != self._owner:
            return None
        return self._fast

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on the inline connection; on a lock, on the worker connection."""
        conn = self._inline_conn()
        if conn is not None:
            try:
                return fn(conn)
            except _Busy:
                pass
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        return await self._in_worker(fn)

    async def _in_worker(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._worker_lock:
                if self._worker is None:
                    raise RuntimeError(f"{type(self).__name__} was closed")
                return fn(self._worker)

        return await asyncio.to_thread(locked)

    def _write(self, conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        """``body`` in one ``BEGIN IMMEDIATE`` transaction (``_Busy`` if the inline
        connection cannot take the write lock at once)."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if conn is self._fast and _is_busy(exc):
                raise _Busy from exc
            raise
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if conn is self._fast:
            self._wrote()
        return result

    def _wrote(self) -> None:
        """After an inline commit: checkpoint in the worker thread, at most once a second."""
        now = time.monotonic()
        if now < self._checkpoint_due or (
            self._checkpoint is not None and not self._checkpoint.done()
        ):
            return
        self._checkpoint_due = now + CHECKPOINT_EVERY_S

        def checkpoint(conn: sqlite3.Connection) -> None:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

        with contextlib.suppress(RuntimeError):  # no running loop: skip this one
            self._checkpoint = asyncio.ensure_future(self._in_worker(checkpoint))


class SqliteCache(_SqliteBacked):
    """A :class:`~thrifty.store.protocols.Cache` in table ``table`` of the SQLite file
    ``path`` (created if missing).  ``await open()`` first (or ``async with``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "cache",
        max_entries: int = 100_000,
        max_bytes: int = 256 * 2**20,
        max_value_bytes: int = 2**20,
        touch_interval_s: float = 60.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(path, table, clock)
        check_bounds(max_entries, max_bytes, max_value_bytes)
        self.max_entries, self.max_bytes, self.max_value_bytes = (
            max_entries,
            max_bytes,
            max_value_bytes,
        )
        self.touch_interval_s = touch_interval_s
        self._hits = self._misses = self._evictions = self._expired = 0
        self._sets = 0

    def _schema(self) -> tuple[str, ...]:
        t = self._table
        return (
            f"""CREATE TABLE {t} (
                key BLOB PRIMARY KEY,
                value BLOB NOT NULL,
                size INTEGER NOT NULL,
                tag TEXT,
                expires_at REAL,
                used_at REAL NOT NULL
            )""",
            f"CREATE INDEX {t}_used ON {t} (used_at)",
            f"CREATE INDEX {t}_expires ON {t} (expires_at) WHERE expires_at IS NOT NULL",
            f"CREATE INDEX {t}_tag ON {t} (tag) WHERE tag IS NOT NULL",
            f"""CREATE TABLE {t}_meta (
                id INTEGER PRIMARY KEY CHECK (id = 0),
                version INTEGER NOT NULL,
                entries INTEGER NOT NULL,
                bytes INTEGER NOT NULL
            )""",
            f"INSERT INTO {t}_meta (id, version, entries, bytes) VALUES (0, {self._VERSION}, 0, 0)",
            f"""CREATE TRIGGER {t}_ins AFTER INSERT ON {t} BEGIN
                UPDATE {t}_meta SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0;
            END""",
            f"""CREATE TRIGGER {t}_del AFTER DELETE ON {t} BEGIN
                UPDATE {t}_meta SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0;
            END""",
            f"""CREATE TRIGGER {t}_upd AFTER UPDATE OF size ON {t} BEGIN
                UPDATE {t}_meta SET bytes = bytes - OLD.size + NEW.size WHERE id = 0;
            END""",
        )

    async def get(self, key: str) -> bytes | None:
        raw = check_key(key)
        t = self._table

        def read(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            found: tuple[Any, ...] | None = conn.execute(
                f"SELECT value, expires_at, used_at FROM {t} WHERE key = ?", (raw,)
            ).fetchone()
            return found

        found = await self._run(read)
        now = self._clock()
        if found is None:
            self._misses += 1
            return None
        value, expires_at, used_at = found
        if expires_at is not None and expires_at <= now:
            self._misses += 1
            self._expired += 1
            await self._best_effort(
                f"DELETE FROM {t} WHERE key = ? AND expires_at <= ?", (raw, now)
            )
            return None
        self._hits += 1
        if now - used_at >= self.touch_interval_s:
            await self._best_effort(
                f"UPDATE {t} SET used_at = ? WHERE key = ? AND used_at < ?", (now, raw, now)
            )
        return bytes(value)

    async def _best_effort(self, sql: str, params: tuple[Any, ...]) -> None:
        """A one-row write that may be skipped: inline if the lock is free, else not."""
        conn = self._inline_conn()
        if conn is None:
            return
        try:
            conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        else:
            self._wrote()

    async def set(
        self, key: str, value: bytes, *, ttl_s: float | None = None, tag: str | None = None
    ) -> None:
        raw = check_key(key)
        data = check_value(value, self.max_value_bytes)
        check_ttl(ttl_s)
        if tag is not None:
            check_key(tag)
        t = self._table
        now = self._clock()
        expires = None if ttl_s is None else now + ttl_s
        self._sets += 1
        purge = self._sets % PURGE_EVERY == 0

        def body(conn: sqlite3.Connection) -> bool:
            conn.execute(
                f"INSERT INTO {t} (key, value, size, tag, expires_at, used_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " value = excluded.value, size = excluded.size, tag = excluded.tag,"
                " expires_at = excluded.expires_at, used_at = excluded.used_at",
                (raw, data, len(raw) + len(data), tag, expires, now),
            )
            if purge:
                self._purge(conn, now, PURGE_BATCH)
            limit = INLINE_EVICT if conn is self._fast else None
            return self._trim(conn, raw, now, limit)

        def write(conn: sqlite3.Connection) -> bool:
            return self._write(conn, body)

        if not await self._run(write):
            await self._in_worker(lambda conn: self._write(conn, self._trim_all(raw, now)))

    def _trim_all(self, raw: bytes, now: float) -> Callable[[sqlite3.Connection], bool]:
        return lambda conn: self._trim(conn, raw, now, None)

    def _purge(self, conn: sqlite3.Connection, now: float, limit: int) -> int:
        t = self._table
        cursor = conn.execute(
            f"DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE expires_at <= ? LIMIT ?)",
            (now, limit),
        )
        self._expired += cursor.rowcount
        return cursor.rowcount

    def _trim(self, conn: sqlite3.Connection, keep: bytes, now: float, limit: int | None) -> bool:
        """Within bounds again (expired entries first, then least recently used, never
        ``keep``), deleting at most ``limit`` rows; ``False`` if that was not enough."""
        t = self._table
        budget = limit
        while True:
            entries, size = conn.execute(f"SELECT entries, bytes FROM {t}_meta").fetchone()
            over_entries = entries - self.max_entries
            over_bytes = size - self.max_bytes
            if over_entries <= 0 and over_bytes <= 0:
                return True
            if budget is not None and budget <= 0:
                return False
            batch = 64 if budget is None else min(64, budget)
            purged = self._purge(conn, now, batch)
            if purged:
                budget = None if budget is None else budget - purged
                continue
            victims: list[int] = []
            for rowid, row_size in conn.execute(
                f"SELECT rowid, size FROM {t} WHERE key != ? ORDER BY used_at, rowid LIMIT ?",
                (keep, batch),
            ):
                if over_entries <= 0 and over_bytes <= 0:
                    break
                victims.append(rowid)
                over_entries -= 1
                over_bytes -= row_size
            if not victims:
                return True  # only ``keep`` is left: it fits by construction
            conn.executemany(f"DELETE FROM {t} WHERE rowid = ?", [(v,) for v in victims])
            self._evictions += len(victims)
            budget = None if budget is None else budget - len(victims)

    async def delete(self, key: str) -> bool:
        raw = check_key(key)
        t = self._table

        def body(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM {t} WHERE key = ?", (raw,)).rowcount > 0

        return await self._run(lambda conn: self._write(conn, body))

    async def clear(self, *, prefix: str | None = None, tag: str | None = None) -> int:
        where: list[str] = []
        params: list[Any] = []
        if prefix:
            low, high = _prefix_range(prefix.encode("utf-8"))
            where.append("key >= ?")
            params.append(low)
            if high is not None:
                where.append("key < ?")
                params.append(high)
        if tag is not None:
            where.append("tag = ?")
            params.append(tag)
        t = self._table
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        sql = f"DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t}{cond} LIMIT {CLEAR_CHUNK})"

        def chunk(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, params).rowcount)

        def clear_all(conn: sqlite3.Connection) -> int:
            total = 0
            while True:
                done = self._write(conn, chunk)
                total += done
                if done < CLEAR_CHUNK:
                    return total

        return await self._in_worker(clear_all)

    async def stats(self) -> CacheStats:
        t = self._table

        def read(conn: sqlite3.Connection) -> tuple[int, int]:
            entries, size = conn.execute(f"SELECT entries, bytes FROM {t}_meta").fetchone()
            return int(entries), int(size)

        entries, size = await self._run(read)
        return CacheStats(
            entries=entries,
            bytes=size,
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            expired=self._expired,
            max_entries=self.max_entries,
            max_bytes=self.max_bytes,
        )


class SqliteCounters(_SqliteBacked):
    """:class:`~thrifty.store.protocols.Counters` in table ``table`` of the SQLite file
    ``path``.  Each ``incr`` is one atomic upsert; expired windows are purged in passing."""

    def __init__(
        self, path: str | os.PathLike[str], *, table: str = "counters", clock: Clock = time.time
    ) -> None:
        super().__init__(path, table, clock)
        self._writes = 0

    def _schema(self) -> tuple[str, ...]:
        t = self._table
        return (
            f"""CREATE TABLE {t} (
                key BLOB PRIMARY KEY,
                value INTEGER NOT NULL,
                expires_at REAL
            ) WITHOUT ROWID""",
            f"CREATE INDEX {t}_expires ON {t} (expires_at) WHERE expires_at IS NOT NULL",
            f"""CREATE TABLE {t}_meta (
                id INTEGER PRIMARY KEY CHECK (id = 0),
                version INTEGER NOT NULL
            )""",
            f"INSERT INTO {t}_meta (id, version) VALUES (0, {self._VERSION})",
        )

    async def incr(self, key: str, by: int = 1, *, window_s: float | None = None) -> int:
        raw = check_key(key)
        check_by(by)
        check_ttl(window_s)
        t = self._table
        now = self._clock()
        expires = None if window_s is None else now + window_s
        self._writes += 1
        purge = self._writes % PURGE_EVERY == 0

        def body(conn: sqlite3.Connection) -> int:
            (value,) = conn.execute(
                f"INSERT INTO {t} (key, value, expires_at) VALUES (?1, ?2, ?3)"
                " ON CONFLICT (key) DO UPDATE SET"
                " value = CASE WHEN expires_at <= ?4 THEN excluded.value"
                " ELSE value + excluded.value END,"
                " expires_at = CASE WHEN expires_at <= ?4 THEN excluded.expires_at"
                " ELSE expires_at END"
                " RETURNING value",
                (raw, by, expires, now),
            ).fetchall()[0]
            if purge:
                conn.execute(
                    f"DELETE FROM {t} WHERE key IN (SELECT key FROM {t}"
                    " WHERE expires_at <= ? LIMIT ?)",
                    (now, PURGE_BATCH),
                )
            return int(value)

        return await self._run(lambda conn: self._write(conn, body))

    async def get(self, key: str) -> int:
        raw = check_key(key)
        t = self._table
        now = self._clock()

        def read(conn: sqlite3.Connection) -> int:
            found = conn.execute(
                f"SELECT value, expires_at FROM {t} WHERE key = ?", (raw,)
            ).fetchone()
            if found is None or (found[1] is not None and found[1] <= now):
                return 0
            return int(found[0])

        return await self._run(read)

    async def delete(self, key: str) -> bool:
        raw = check_key(key)
        t = self._table

        def body(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM {t} WHERE key = ?", (raw,)).rowcount > 0

        return await self._run(lambda conn: self._write(conn, body))


if TYPE_CHECKING:  # mypy checks that both backends satisfy the protocols
    from thrifty.store.memory import MemoryCache, MemoryCounters
    from thrifty.store.protocols import Cache, Counters

    def _conforms(
        cache: SqliteCache, counters: SqliteCounters, mc: MemoryCache, mn: MemoryCounters
    ) -> tuple[Cache, Counters, Cache, Counters]:
        return cache, counters, mc, mn
