"""In-process cache and counters: one process, nothing persisted.  For the library, for
tests, and as the reference behaviour the SQLite backend is checked against."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from thrifty.store.protocols import CacheStats, check_key

Clock = Callable[[], float]


@dataclass(slots=True)
class _Entry:
    value: bytes
    size: int
    tag: str | None
    expires_at: float | None


def check_bounds(max_entries: int, max_bytes: int, max_value_bytes: int) -> None:
    if max_entries < 1 or max_bytes < 1 or max_value_bytes < 1:
        raise ValueError("cache bounds must be positive")
    if max_value_bytes > max_bytes:
        raise ValueError("max_value_bytes cannot exceed max_bytes")


def check_value(value: bytes, max_value_bytes: int) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"a cache value must be bytes, got {type(value).__name__}")
    data = bytes(value)
    if len(data) > max_value_bytes:
        raise ValueError(f"cache value of {len(data)} bytes exceeds {max_value_bytes}")
    return data


def check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not ttl_s > 0:
        raise ValueError(f"ttl_s must be positive or None, got {ttl_s!r}")


def check_by(by: int) -> None:
    if isinstance(by, bool) or not isinstance(by, int):
        raise TypeError(f"a counter step must be an int, got {type(by).__name__}")
    if abs(by) >= 2**53:
        raise ValueError("a counter step must be below 2**53 in magnitude")


class MemoryCache:
    """Exact LRU (every ``get`` refreshes recency), exact byte accounting."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 2**20,
        max_value_bytes: int = 2**20,
        clock: Clock = time.time,
    ) -> None:
        check_bounds(max_entries, max_bytes, max_value_bytes)
        self.max_entries, self.max_bytes, self.max_value_bytes = (
            max_entries,
            max_bytes,
            max_value_bytes,
        )
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()  # least recent first
        self._bytes = 0
        self._hits = self._misses = self._evictions = self._expired = 0

    async def get(self, key: str) -> bytes | None:
        raw = check_key(key)
        entry = self._entries.get(raw)
        if entry is None:
            self._misses += 1
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            self._drop(raw)
            self._expired += 1
            self._misses += 1
            return None
        self._entries.move_to_end(raw)
        self._hits += 1
        return entry.value

    async def set(
        self, key: str, value: bytes, *, ttl_s: float | None = None, tag: str | None = None
    ) -> None:
        raw = check_key(key)
        data = check_value(value, self.max_value_bytes)
        check_ttl(ttl_s)
        now = self._clock()
        self._drop(raw)
        entry = _Entry(data, len(raw) + len(data), tag, None if ttl_s is None else now + ttl_s)
        self._entries[raw] = entry
        self._bytes += entry.size
        if len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            for old in [k for k, e in self._entries.items() if _expired(e, now)]:
                self._drop(old)
                self._expired += 1
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
            self._evictions += 1

    async def delete(self, key: str) -> bool:
        return self._drop(check_key(key))

    async def clear(self, *, prefix: str | None = None, tag: str | None = None) -> int:
        start = None if prefix is None else prefix.encode("utf-8")
        doomed = [
            k
            for k, e in self._entries.items()
            if (start is None or k.startswith(start)) and (tag is None or e.tag == tag)
        ]
        for k in doomed:
            self._drop(k)
        return len(doomed)

    async def stats(self) -> CacheStats:
        return CacheStats(
            entries=len(self._entries),
            bytes=self._bytes,
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            expired=self._expired,
            max_entries=self.max_entries,
            max_bytes=self.max_bytes,
        )

    async def close(self) -> None:
        return None

    def _drop(self, raw: bytes) -> bool:
        entry = self._entries.pop(raw, None)
        if entry is None:
            return False
        self._bytes -= entry.size
        return True


def _expired(entry: _Entry, now: float) -> bool:
    return entry.expires_at is not None and entry.expires_at <= now


class MemoryCounters:
    """Counters in a dict, fixed windows as in :class:`~thrifty.store.protocols.Counters`."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._values: dict[bytes, tuple[int, float | None]] = {}

    async def incr(self, key: str, by: int = 1, *, window_s: float | None = None) -> int:
        raw = check_key(key)
        check_by(by)
        check_ttl(window_s)
        now = self._clock()
        current = self._values.get(raw)
        if current is None or (current[1] is not None and current[1] <= now):
            value, ends = by, None if window_s is None else now + window_s
        else:
            value, ends = current[0] + by, current[1]
        self._values[raw] = (value, ends)
        return value

    async def get(self, key: str) -> int:
        current = self._values.get(check_key(key))
        if current is None or (current[1] is not None and current[1] <= self._clock()):
            return 0
        return current[0]

    async def delete(self, key: str) -> bool:
        return self._values.pop(check_key(key), None) is not None

    async def close(self) -> None:
        return None
