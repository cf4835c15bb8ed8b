"""How often a prompt prefix comes back, and which cache lifetime pays for it.

:class:`ReuseTracker` remembers, per prefix hash, when it was last seen, how often, the
smoothed interval between sightings, and until when thrifty believes a cache entry it had
written for it lives (entries are refreshed by every read).  It is a bounded LRU: at most
``max_prefixes`` hashes, the least recently seen forgotten first.

:func:`choose_ttl` is the arithmetic (prices as multiples of the plain input rate: a 5-minute
write costs 1.25x, a 1-hour write 2x, a read 0.1x).  For a prefix of ``T`` tokens that comes
back every ``g`` seconds:

* an entry thrifty wrote is still alive: keep its breakpoint (a read, 0.1x, which also
  refreshes it);
* ``g <= 5 min``: 5m.  Write 1.25T now, then 0.1T per use, against T per use uncached: pays
  from the first reuse (1.25 + 0.1 = 1.35 < 2).
* ``5 min < g <= 1 h``: a 5m entry would expire before every reuse (1.25T each time, worse
  than no caching), so 1h or nothing.  1h costs 2T once, then 0.1T per use: against 1T per
  use it pays from the second reuse (2 + 0.1 + 0.1 = 2.2 < 3), so thrifty writes it once
  the prefix has been seen at least ``min_uses_for_1h`` times before (default 2).
* ``g > 1 h``: nothing (every entry expires before its reuse).
* never seen before: nothing (a write costs 0.25T more than plain input for a prefix that
  may never return), unless ``first_sight`` is on.

``g`` is the smoothed gap (EWMA, weight 1/2 on the newest gap) so one burst or one pause does
not flip the choice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

Ttl = Literal["5m", "1h"]
TTL_SECONDS: dict[Ttl, float] = {"5m": 300.0, "1h": 3600.0}
_NEWEST_WEIGHT = 0.5


@dataclass(slots=True)
class Sighting:
    """What the tracker knows about one prefix."""

    last_seen: float
    uses: int = 1  # sightings so far, this one included
    gap_s: float | None = None  # smoothed interval between sightings
    cached_until: float = 0.0  # expiry of the entry thrifty last wrote or read
    ttl: Ttl | None = None  # the lifetime of that entry
    # Tokens the prefix's last segment (tools, system) adds: its count, or a proven lower
    # bound when that was enough to decide.
    segment_tokens: int | None = None
    segment_exact: bool = False


class ReuseTracker:
    """Per-prefix sightings with bounded memory (one per stage; never shared)."""

    def __init__(self, max_prefixes: int) -> None:
        if max_prefixes < 1:
            raise ValueError("max_prefixes must be at least 1")
        self._max = max_prefixes
        self._seen: OrderedDict[Hashable, Sighting] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def get(self, key: Hashable) -> Sighting | None:
        return self._seen.get(key)

    def observe(self, key: Hashable, now: float) -> tuple[Sighting | None, Sighting]:
        """Record a sighting of ``key`` at ``now``: (the state before, the state after)."""
        before = self._seen.get(key)
        if before is None:
            after = Sighting(last_seen=now)
        else:
            gap = max(0.0, now - before.last_seen)
            smoothed = gap if before.gap_s is None else _smooth(before.gap_s, gap)
            after = Sighting(
                now,
                before.uses + 1,
                smoothed,
                before.cached_until,
                before.ttl,
                before.segment_tokens,
                before.segment_exact,
            )
        self._seen[key] = after
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return before, after

    def cached(self, key: Hashable, now: float, ttl: Ttl) -> None:
        """A breakpoint with ``ttl`` was placed on ``key`` at ``now`` (written or read)."""
        found = self._seen.get(key)
        if found is not None:
            keep = found.ttl if found.ttl == "1h" and found.cached_until > now else ttl
            found.ttl = keep
            found.cached_until = now + TTL_SECONDS[keep]


def _smooth(previous: float, newest: float) -> float:
    return (1 - _NEWEST_WEIGHT) * previous + _NEWEST_WEIGHT * newest


@dataclass(frozen=True, slots=True)
class TtlPolicy:
    first_sight: bool = False
    min_uses_for_1h: int = 2
    allow_1h: bool = True


def choose_ttl(
    before: Sighting | None, after: Sighting, now: float, policy: TtlPolicy
) -> Ttl | None:
    """The lifetime to cache a prefix with now, or ``None`` to leave it uncached (see the
    module docs for the arithmetic)."""
    if before is None:
        return "5m" if policy.first_sight else None
    if before.ttl is not None and before.cached_until > now:
        return before.ttl  # our entry lives: read it (and refresh it)
    gap = after.gap_s
    if gap is None:
        return None
    if gap <= TTL_SECONDS["5m"]:
        return "5m"
    if policy.allow_1h and gap <= TTL_SECONDS["1h"] and before.uses >= policy.min_uses_for_1h:
        return "1h"
    return None
