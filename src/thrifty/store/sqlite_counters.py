"""SQLite counters: atomic integer counters in fixed time windows (see
:mod:`thrifty.store.sqlite` for the design)."""

from __future__ import annotations

import os
import sqlite3
import time

from thrifty.store.memory import Clock, check_by, check_ttl
from thrifty.store.protocols import check_key
from thrifty.store.sqlite_base import PURGE_BATCH, PURGE_EVERY, _SqliteBacked


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
