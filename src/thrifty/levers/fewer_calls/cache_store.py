"""Where the exact cache keeps its entries and its counts.

Entries go to a :class:`~thrifty.store.protocols.Cache` (SQLite by default, in a file next
to the ledger: ``thrifty.db`` -> ``thrifty-cache.db``; or in memory), tagged with their task
so ``thrifty cache clear --task T`` can drop one task's entries.  What happened to each
request (hit, miss, refresh, bypass, stored, not stored, store error, corrupt entry) is
counted in memory and added to :class:`~thrifty.store.protocols.Counters` in the same file
at most once a second and at shutdown, so ``thrifty cache stats`` sees every process's
counts without a write per request.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from pathlib import Path

from thrifty.config import CacheSettings, Settings
from thrifty.store import (
    Cache,
    CacheStats,
    Counters,
    MemoryCache,
    MemoryCounters,
    SqliteCache,
    SqliteCounters,
)
from thrifty.store.memory import Clock

log = logging.getLogger("thrifty.cache")

OUTCOMES = (
    "hit",
    "partial",  # embeddings: some inputs from the cache, the others from the provider
    "miss",
    "refresh",
    "bypass",
    "stored",
    "not_stored",
    "error",
    "corrupt",
)
ALL_TASKS = "*"
FLUSH_EVERY_S = 1.0
MAX_TASKS = 1000  # tasks counted one by one; the rest only in the total


def cache_path(settings: Settings) -> Path:
    """``[levers.cache] path``, else next to the ledger (``thrifty.db`` -> ``thrifty-cache.db``)."""
    configured = settings.levers.cache.path
    if configured is not None:
        return Path(configured)
    return settings.ledger.beside("cache")


def sqlite_store(settings: Settings) -> tuple[SqliteCache, SqliteCounters]:
    """The SQLite store and counters of ``settings`` (not opened)."""
    cache = settings.levers.cache
    path = cache_path(settings)
    return (
        SqliteCache(
            path,
            table="exact_cache",
            max_entries=cache.max_entries,
            max_bytes=cache.max_bytes,
            max_value_bytes=cache.max_entry_bytes,
        ),
        SqliteCounters(path, table="exact_cache_counts"),
    )


def memory_store(cache: CacheSettings) -> tuple[MemoryCache, MemoryCounters]:
    return (
        MemoryCache(
            max_entries=cache.max_entries,
            max_bytes=cache.max_bytes,
            max_value_bytes=cache.max_entry_bytes,
        ),
        MemoryCounters(),
    )


def counter_key(outcome: str, task: str | None) -> str:
    """The counter of ``outcome`` for ``task`` (``ALL_TASKS``: every request)."""
    return f"{outcome}:{'' if task is None else task}"


class Tally:
    """Outcome counts, per task and in total, added to ``counters`` in passing once
    ``FLUSH_EVERY_S`` has gone by (and by :meth:`flush`).  Task names come from requests:
    only the first ``max_tasks`` seen get counts of their own (the total counts all)."""

    def __init__(
        self,
        counters: Counters | None,
        clock: Clock = time.monotonic,
        *,
        max_tasks: int = MAX_TASKS,
    ) -> None:
        self.counters = counters
        self.counts: Counter[tuple[str, str | None]] = Counter()
        self._pending: Counter[str] = Counter()
        self._tasks: set[str | None] = set()
        self._max_tasks = max_tasks
        self._clock = clock
        self._due = clock() + FLUSH_EVERY_S

    def __getitem__(self, outcome: str) -> int:
        return self.counts[(outcome, ALL_TASKS)]

    async def add(self, outcome: str, task: str | None) -> None:
        own = task in self._tasks
        if not own and len(self._tasks) < self._max_tasks:
            self._tasks.add(task)
            own = True
        self.counts[(outcome, ALL_TASKS)] += 1
        if own:
            self.counts[(outcome, task)] += 1
        if self.counters is None:
            return
        self._pending[counter_key(outcome, ALL_TASKS)] += 1
        if own:
            self._pending[counter_key(outcome, task)] += 1
        if self._clock() >= self._due:
            await self.flush()

    async def flush(self) -> None:
        """Add the pending counts to the shared counters (kept for later if that fails)."""
        self._due = self._clock() + FLUSH_EVERY_S
        pending, self._pending = self._pending, Counter()
        if self.counters is None or not pending:
            return
        try:
            for key, count in list(pending.items()):
                await self.counters.incr(key, count)
                del pending[key]
        except Exception as exc:  # counts are not worth a failed request
            log.warning("exact cache: could not save its counts: %s", exc)
            self._pending.update(pending)


class Unavailable:
    """The cache when its store could not be opened: every call fails (each request is
    then a miss, counted as an error), until the process restarts."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def get(self, key: str) -> bytes | None:
        raise OSError(self.reason)

    async def set(
        self, key: str, value: bytes, *, ttl_s: float | None = None, tag: str | None = None
    ) -> None:
        raise OSError(self.reason)

    async def delete(self, key: str) -> bool:
        raise OSError(self.reason)

    async def clear(self, *, prefix: str | None = None, tag: str | None = None) -> int:
        raise OSError(self.reason)

    async def stats(self) -> CacheStats:
        raise OSError(self.reason)

    async def close(self) -> None:
        return None


def private(path: Path) -> None:
    """Only the owner may read the store: it holds the answers, in clear."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            name.chmod(0o600)


async def open_store(settings: Settings) -> tuple[Cache, Counters | None]:
    """The configured store, opened; an :class:`Unavailable` one (logged) if it cannot be."""
    if settings.levers.cache.backend == "memory":
        return memory_store(settings.levers.cache)
    cache, counters = sqlite_store(settings)
    try:
        await cache.open()
    except Exception as exc:
        log.error("exact cache: cannot open %s (%s): every request is a miss", cache.path, exc)
        return Unavailable(f"cache store {cache.path} unavailable"), None
    private(cache.path)
    try:
        await counters.open()
    except Exception as exc:
        log.error("exact cache: cannot open its counts in %s (%s)", cache.path, exc)
        return cache, None
    return cache, counters
