"""The ledger's lock spool: a small fsync'd SQLite file beside the ledger.

If another process holds the ledger's write lock for longer than ``lock_wait_s``, the
store's writer thread appends the batch here instead (``<ledger>.spool``,
``synchronous=FULL``: fsync'd before ``record()`` returns) and moves the rows into the
ledger once the lock clears, or on the next ``open()``.  Applying is idempotent on
``request_id``: a row whose ``request_id`` is already in the ledger is skipped.  See
:mod:`thrifty.ledger.store` for the full guarantee.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path

from thrifty.ledger.row import (
    INSERT_CALL,
    INSERT_ROW,
    INSERT_SAVING,
    CallParams,
    RowParams,
    SavingParams,
    widened,
)

SPOOL_SUFFIX = ".spool"

# The store's logger: spool messages keep the logger name they have always had.
_log = logging.getLogger("thrifty.ledger.store")

_SPOOL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spool ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request_id TEXT NOT NULL,"
    " body TEXT NOT NULL)"
)
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

SpoolRow = tuple[RowParams, list[SavingParams], list[CallParams]]

SPOOL_ERRORS = (sqlite3.Error, OSError, TypeError, ValueError)
"""What :meth:`Spool.append` can raise for a batch that was not spooled."""


def is_busy(exc: sqlite3.Error) -> bool:
    """The error is another connection's lock (worth spooling), not a broken row."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def spool_path(ledger: str | os.PathLike[str]) -> Path:
    """Where the ledger at ``ledger`` spools rows while another process holds its lock."""
    path = Path(ledger)
    return path.with_name(path.name + SPOOL_SUFFIX)


def _encode(params: RowParams, savings: list[SavingParams], calls: list[CallParams]) -> str:
    return json.dumps({"row": list(params), "savings": savings, "calls": calls})


def _decode(body: str) -> tuple[RowParams, list[SavingParams], list[CallParams]]:
    data = json.loads(body)
    savings: list[SavingParams] = [tuple(s) for s in data["savings"]]
    calls: list[CallParams] = [tuple(c) for c in data["calls"]]
    return widened(tuple(data["row"])), savings, calls


class Spool:
    """The spool of the ledger at ``ledger``.  Used only by the store's writer thread
    (the connection is opened on first use)."""

    def __init__(self, ledger: Path, *, lock_wait_ms: int, max_batch: int) -> None:
        self._ledger = ledger
        self._lock_wait_ms = lock_wait_ms
        self._max_batch = max_batch
        self._conn: sqlite3.Connection | None = None
        self.pending = spool_path(ledger).exists()

    @property
    def path(self) -> Path:
        return spool_path(self._ledger)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self, *, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            path = self.path
            if not create and not path.exists():
                return None
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute(_SPOOL_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def append(self, rows: list[SpoolRow]) -> None:
        """The ledger stayed locked: append ``rows`` to the spool (fsync'd).  Raises one
        of :data:`SPOOL_ERRORS` if they were not spooled."""
        spool = self._connection(create=True)
        assert spool is not None
        spool.execute("BEGIN IMMEDIATE")
        try:
            spool.executemany(
                "INSERT INTO spool (request_id, body) VALUES (?, ?)",
                [
                    (str(params[0]), _encode(params, savings, calls))
                    for params, savings, calls in rows
                ],
            )
            spool.execute("COMMIT")
        except BaseException:
            if spool.in_transaction:
                spool.execute("ROLLBACK")
            raise
        self.pending = True
        _log.warning(
            "ledger %s is locked by another process: %d row(s) spooled to %s",
            self._ledger,
            len(rows),
            self.path,
        )

    def apply(self, conn: sqlite3.Connection, *, wait: bool = True) -> None:
        """Move spooled rows into the ledger, skipping any ``request_id`` it already has.
        Leaves the spool pending if the ledger is still locked."""
        try:
            spool = self._connection(create=False)
            if spool is None:
                self.pending = False
                return
            while True:
                batch = spool.execute(
                    "SELECT seq, body FROM spool ORDER BY seq LIMIT ?", (self._max_batch,)
                ).fetchall()
                if not batch:
                    self.pending = False
                    return
                if not self._apply_batch(conn, batch, wait=wait):
                    return
                # The ledger has committed these rows: a crash before this delete only
                # makes the next open skip them (request_id already there).
                spool.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s, _ in batch])
        except sqlite3.Error as exc:
            _log.error("could not apply the ledger spool %s: %s", self.path, exc)

    def _apply_batch(
        self, conn: sqlite3.Connection, batch: list[tuple[int, str]], *, wait: bool
    ) -> bool:
        if not wait:
            conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if is_busy(exc):
                return False
            raise
        finally:
            if not wait:
                conn.execute(f"PRAGMA busy_timeout = {self._lock_wait_ms}")
        try:
            for seq, body in batch:
                params, savings, calls = _decode(body)
                exists = conn.execute(
                    "SELECT 1 FROM requests WHERE request_id = ?", (params[0],)
                ).fetchone()
                if exists:
                    continue
                conn.execute("SAVEPOINT row")
                try:
                    conn.execute(INSERT_ROW, params)
                    if savings:
                        conn.executemany(INSERT_SAVING, savings)
                    if calls:
                        conn.executemany(INSERT_CALL, calls)
                except sqlite3.IntegrityError as exc:  # a row the ledger can never take
                    conn.execute("ROLLBACK TO row")
                    _log.error("spooled ledger row %r (seq %d) dropped: %s", params[0], seq, exc)
                conn.execute("RELEASE row")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True
