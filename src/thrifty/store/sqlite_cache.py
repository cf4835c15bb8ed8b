"""SQLite cache: bounded bytes with TTL, tags and approximate LRU eviction (see
:mod:`thrifty.store.sqlite` for the design)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from thrifty.store.memory import Clock, check_bounds, check_ttl, check_value
from thrifty.store.protocols import CacheStats, check_key
from thrifty.store.sqlite_base import PURGE_BATCH, PURGE_EVERY, _is_busy, _SqliteBacked

INLINE_EVICT = 256  # rows an inline set() may evict before handing over to the thread
CLEAR_CHUNK = 2000


def _prefix_range(prefix: bytes) -> tuple[bytes, bytes | None]:
    """``[low, high)`` holding exactly the byte strings that start with ``prefix``."""
    stem = prefix.rstrip(b"\xff")
    if not stem:
        return prefix, None
    return prefix, stem[:-1] + bytes([stem[-1] + 1])


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
