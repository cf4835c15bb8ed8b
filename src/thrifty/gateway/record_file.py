"""What the gateway's small record stores share (response owners, background bookings): a
private SQLite file (mode 0600, WAL) opened on first use, with records bounded in number
(the oldest go first) and in age."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["LOW_WATER", "MAX_ROWS", "RESPONSE_ID", "TTL_S", "RecordFile", "check_response_id"]

# OpenAI's ids are "resp_" + 50 hex digits; other servers' differ, but never carry a path
# separator, a query or more than this many characters, and start with a letter or digit
# (so "." and "..", which an HTTP client resolves as path segments, are never ids).
from thrifty.errors import BadRequest

RESPONSE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def check_response_id(response_id: object) -> str:
    """``response_id`` when it is a valid response id (what the gateway's side routes and
    the library forward); :class:`~thrifty.errors.BadRequest` naming the rule otherwise."""
    if isinstance(response_id, str) and RESPONSE_ID.match(response_id):
        return response_id
    raise BadRequest(
        "a response id is 1-128 characters of A-Z a-z 0-9 _ . : -, the first a "
        f"letter or digit (got {str(response_id)[:40]!r})"
    )


MAX_ROWS = 200_000
TTL_S = 30 * 24 * 3600.0  # OpenAI keeps a stored response 30 days
# Eviction takes a table down to this share of its bound, so it runs once per many inserts.
LOW_WATER = 0.9


class RecordFile:
    """One table of records (``table``, made by ``schema``, with a ``created_at`` column
    and a primary key ``response_id``) in ``path``, at most ``max_rows`` of them, each kept
    ``ttl_s``."""

    table: str = ""
    schema: str = ""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = MAX_ROWS,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        if max_rows < 1 or ttl_s <= 0:
            raise ValueError("max_rows and ttl_s must be positive")
        self.path = path
        self.max_rows = max_rows
        self.ttl_s = ttl_s
        self._clock = clock
        self.read_only = read_only  # to list what the file holds, never changing it
        self._conn: sqlite3.Connection | None = None
        self._rows = 0  # records in the file, as far as this process knows

    def _db(self) -> sqlite3.Connection:
        """The file, opened and its records counted on first use; raises ``OSError`` or
        ``sqlite3.Error`` (a failed open is retried on the next call)."""
        if self._conn is None:
            conn = self._open(self.schema)
            self._rows = self._count(conn)
            self._conn = conn
        return self._conn

    def _open(self, schema: str) -> sqlite3.Connection:
        """The file, created private if new, with ``schema`` applied; raises ``OSError``
        or ``sqlite3.Error``.  Read-only: the file as it is (it must exist)."""
        if self.read_only:
            return sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=2000")
            conn.executescript(schema)
        except sqlite3.Error:
            conn.close()
            raise
        if os.name == "posix":
            os.chmod(self.path, 0o600)
        return conn

    def _count(self, db: sqlite3.Connection) -> int:
        (rows,) = db.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        return int(rows)

    def _evict(self, db: sqlite3.Connection) -> int:
        """Expired records, then the oldest down to the low-water mark; the rows left."""
        table = self.table
        db.execute(f"DELETE FROM {table} WHERE created_at < ?", (self._clock() - self.ttl_s,))
        rows = self._count(db)
        keep = int(self.max_rows * LOW_WATER)
        if rows > keep:
            db.execute(
                f"DELETE FROM {table} WHERE response_id IN (SELECT response_id FROM {table} "
                "ORDER BY created_at, response_id LIMIT ?)",
                (rows - keep,),
            )
        return min(rows, keep)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
