"""Storage behind thrifty, as protocols with interchangeable backends.

* :class:`LedgerWriter` / :class:`LedgerReader`: the ledger (SQLite:
  ``thrifty.ledger.LedgerStore`` and ``thrifty.ledger.query.SqliteLedgerReader``).
* :class:`Cache`: bounded bytes with TTL, tags and LRU eviction.
* :class:`Counters`: atomic integer counters in fixed time windows.

Backends: SQLite (:mod:`thrifty.store.sqlite`, shared by processes on one machine) and
in-process memory (:mod:`thrifty.store.memory`).  Nothing here imports the ledger, so the
ledger may import the protocols freely.
"""

from thrifty.store.memory import MemoryCache, MemoryCounters
from thrifty.store.protocols import (
    GROUP_DIMENSIONS,
    MAX_KEY_BYTES,
    Cache,
    CacheStats,
    Counters,
    GroupTotals,
    LedgerReader,
    LedgerWriter,
)
from thrifty.store.sqlite import SqliteCache, SqliteCounters

__all__ = [
    "GROUP_DIMENSIONS",
    "MAX_KEY_BYTES",
    "Cache",
    "CacheStats",
    "Counters",
    "GroupTotals",
    "LedgerReader",
    "LedgerWriter",
    "MemoryCache",
    "MemoryCounters",
    "SqliteCache",
    "SqliteCounters",
]
