"""What :class:`~thrifty.store.sqlite_cache.SqliteCache` and
:class:`~thrifty.store.sqlite_counters.SqliteCounters` share: connection setup, the
inline-or-worker-thread execution of statements and WAL checkpoints (see
:mod:`thrifty.store.sqlite` for the design)."""

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
from typing import Self, TypeVar

from thrifty.store.memory import Clock

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
CHECKPOINT_EVERY_S = 1.0
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
