"""In-memory models of the two providers' prompt caches.

* OpenAI caches automatically: a prompt whose first 1024+ tokens were seen before (same
  model) reads the longest seen prefix from cache, in steps of 128 tokens.
* Anthropic caches explicitly: the prefix up to each ``cache_control`` breakpoint is
  written on first sight and read afterwards until its TTL (5 min or 1 h, refreshed on each
  read) runs out.  As upstream, a breakpoint also finds entries up to 20 blocks before it.

Both are bounded LRUs keyed by chained prefix hashes; nothing here does I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

OPENAI_CACHE_STEP = 128
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


class OpenAIPrefixCache:
    """Automatic prefix caching over token pieces."""

    def __init__(self, min_tokens: int, max_entries: int) -> None:
        self._min = max(min_tokens, 1)
        self._max = max_entries
        self._seen: OrderedDict[int, None] = OrderedDict()

    def lookup_and_store(self, model: str, pieces: Sequence[str]) -> int:
        """Cached tokens for a prompt made of ``pieces``; remembers its prefixes."""
        if len(pieces) < self._min:
            return 0
        step = OPENAI_CACHE_STEP
        h = hash(("openai", model))
        keys: list[tuple[int, int]] = []  # (prefix length, chained hash)
        for start in range(0, len(pieces) - step + 1, step):
            h = hash((h, tuple(pieces[start : start + step])))
            if start + step >= self._min:
                keys.append((start + step, h))
        cached = 0
        seen = self._seen
        for length, key in reversed(keys):
            if key in seen:
                cached = length
                break
        for _, key in keys:
            seen[key] = None
            seen.move_to_end(key)
        while len(seen) > self._max:
            seen.popitem(last=False)
        return cached

    def clear(self) -> None:
        self._seen.clear()


@dataclass(frozen=True, slots=True)
class Block:
    """One cacheable unit of an Anthropic prompt (a tool, a system block, a content block)."""

    tokens: int
    key: object  # hashable identity of the block's content
    ttl: str | None  # the block's cache_control TTL ("5m"/"1h"), None when not a breakpoint


@dataclass(frozen=True, slots=True)
class CacheOutcome:
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0


class AnthropicPromptCache:
    """Explicit breakpoint caching with TTLs, on an injectable clock."""

    def __init__(self, min_tokens: int, max_entries: int, clock: Callable[[], float]) -> None:
        self._min = max(min_tokens, 1)
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[int, tuple[float, float]] = OrderedDict()  # expiry, ttl

    def process(self, model: str, blocks: Sequence[Block]) -> CacheOutcome:
        """Read and write the cache for a prompt made of ``blocks``."""
        breakpoints = [i for i, b in enumerate(blocks) if b.ttl is not None]
        if not breakpoints:
            return CacheOutcome()
        now = self._clock()
        cums: list[int] = []
        hashes: list[int] = []
        total = 0
        h = hash(("anthropic", model))
        for block in blocks[: breakpoints[-1] + 1]:
            total += block.tokens
            h = hash((h, block.key))
            cums.append(total)
            hashes.append(h)
        # Longest cached prefix visible from some breakpoint.
        read_at = -1
        for bp in breakpoints:
            for i in range(bp, max(-1, bp - LOOKBACK_BLOCKS), -1):
                if i > read_at and self._alive(hashes[i], now):
                    read_at = i
                    break
        read = cums[read_at] if read_at >= 0 else 0
        if read_at >= 0:
            self._touch(hashes[read_at], now)
        writes = {"5m": 0, "1h": 0}
        prev = read
        for bp in breakpoints:
            if cums[bp] < self._min:
                continue
            ttl = blocks[bp].ttl or "5m"
            if cums[bp] > prev:
                writes[ttl] += cums[bp] - prev
                prev = cums[bp]
                self._store(hashes[bp], now, TTL_SECONDS[ttl])
            elif bp != read_at:
                self._store(hashes[bp], now, TTL_SECONDS[ttl])
        return CacheOutcome(read=read, write_5m=writes["5m"], write_1h=writes["1h"])

    def clear(self) -> None:
        self._entries.clear()

    def _alive(self, key: int, now: float) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry[0] <= now:
            del self._entries[key]
            return False
        return True

    def _touch(self, key: int, now: float) -> None:
        _, ttl = self._entries[key]
        self._entries[key] = (now + ttl, ttl)
        self._entries.move_to_end(key)

    def _store(self, key: int, now: float, ttl: float) -> None:
        old = self._entries.get(key)
        if old is not None and old[0] > now:
            ttl = max(ttl, old[1])
        self._entries[key] = (now + ttl, ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
