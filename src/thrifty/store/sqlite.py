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

from typing import TYPE_CHECKING

from thrifty.store.sqlite_base import (
    BUSY_TIMEOUT_MS,
    CHECKPOINT_EVERY_S,
    PURGE_BATCH,
    PURGE_EVERY,
)
from thrifty.store.sqlite_cache import CLEAR_CHUNK, INLINE_EVICT, SqliteCache
from thrifty.store.sqlite_counters import SqliteCounters

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHECKPOINT_EVERY_S",
    "CLEAR_CHUNK",
    "INLINE_EVICT",
    "PURGE_BATCH",
    "PURGE_EVERY",
    "SqliteCache",
    "SqliteCounters",
]

if TYPE_CHECKING:  # mypy checks that both backends satisfy the protocols
    from thrifty.store.memory import MemoryCache, MemoryCounters
    from thrifty.store.protocols import Cache, Counters

    def _conforms(
        cache: SqliteCache, counters: SqliteCounters, mc: MemoryCache, mn: MemoryCounters
    ) -> tuple[Cache, Counters, Cache, Counters]:
        return cache, counters, mc, mn
