"""What thrifty needs from storage, as ``typing.Protocol`` s: no backend type leaks in.

SQLite implements all four today (``thrifty.ledger.store.LedgerStore``,
``thrifty.ledger.query.SqliteLedgerReader``, :mod:`thrifty.store.sqlite`); an in-process
implementation of the cache and counters lives in :mod:`thrifty.store.memory`.  A Redis or
PostgreSQL backend implements the same protocols and is tested by re-running
``tests/store/test_conformance.py`` against it.

Conventions shared by every protocol:

* Every method is a coroutine: a backend may do I/O and must not hold the event loop for
  long (SQLite runs tiny statements inline and anything longer in a thread).
* Keys are ``str`` of at most :data:`MAX_KEY_BYTES` bytes in UTF-8; a longer key, or a value
  over the backend's bound, raises ``ValueError`` (a key never depends on what a client
  sends without being bounded first: hash it).
* Time windows and TTLs are seconds of wall-clock time (shared by every process).
* Money is exact: integer pico-dollars (1e-12 USD).  ``None`` means unknown, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from thrifty.ledger.row import LedgerRow

MAX_KEY_BYTES = 512

# The dimensions a ledger summary can be grouped by.  "day" is the UTC date of ``ts``
# (YYYY-MM-DD); "lever" switches to the per-lever savings (see GroupTotals); "truncated" is
# "1" for an answer cut by its length limit (the row's `truncated` column), else "0".
GROUP_DIMENSIONS = (
    "day",
    "task",
    "tenant",
    "requested_model",
    "requested_alias",
    "model",
    "provider",
    "service_tier",
    "dialect",
    "endpoint",
    "price_source",
    "failure",
    "lever",
    "truncated",
)


def check_key(key: str) -> bytes:
    """``key`` in UTF-8; ``ValueError`` if it is empty or longer than MAX_KEY_BYTES."""
    if not isinstance(key, str):
        raise TypeError(f"a key must be a str, got {type(key).__name__}")
    raw = key.encode("utf-8")
    if not raw or len(raw) > MAX_KEY_BYTES:
        raise ValueError(f"a key must be 1 to {MAX_KEY_BYTES} bytes in UTF-8, got {len(raw)}")
    return raw


def check_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    """``group_by`` as a tuple; ``ValueError`` for an unknown or repeated dimension."""
    dims = tuple(group_by)
    unknown = [d for d in dims if d not in GROUP_DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group the ledger by {unknown}; known: {GROUP_DIMENSIONS}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"a ledger dimension is repeated in {dims}")
    return dims


# -- the ledger ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupTotals:
    """Exact sums over the ledger rows of one group.

    ``key`` holds the group's value for each requested dimension, in order (``None`` where
    the row has none).  Each money total sums the rows where it is known and says how many
    rows it leaves out (``*_unknown``); a total is ``None`` when no row of the group has
    it known.  The ``comparable_*`` sums cover the same rows for all three amounts: the
    rows where cost, baseline and saving are all known, so ``comparable_saved_pusd /
    comparable_baseline_pusd`` is a true share (never a ratio of sums over different rows).

    Grouped by ``"lever"``, a group is the requests whose savings name that lever, and
    ``saved`` is the lever's own share (unknown when that share is unknown); the other
    figures are those requests' own.
    """

    key: tuple[str | None, ...]
    requests: int
    errors: int  # status >= 400 or an error recorded
    calls: int  # upstream calls made
    cost_pusd: int | None
    cost_unknown: int
    cost_estimated: int  # rows whose known cost rests on estimated token counts
    baseline_pusd: int | None
    baseline_unknown: int
    saved_pusd: int | None
    saved_unknown: int
    comparable_requests: int
    comparable_cost_pusd: int
    comparable_baseline_pusd: int
    comparable_saved_pusd: int
    # Prompt tokens, and the parts of them read from and written to a provider's cache.
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unstable_prefix: int = 0  # requests flagged: their prompt prefix changes every time
    # The history lever: prompt tokens its cuts removed, and cache reads they gave up;
    # rows without these figures (no cut, or booked before the ledger kept them).
    history_saved_tokens: int = 0
    history_cache_reads_lost: int = 0
    history_unknown: int = 0

    def __add__(self, other: GroupTotals) -> GroupTotals:
        """The totals of both groups (keeps ``self.key``)."""

        def opt(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else a + b

        return GroupTotals(
            key=self.key,
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            calls=self.calls + other.calls,
            cost_pusd=opt(self.cost_pusd, other.cost_pusd),
            cost_unknown=self.cost_unknown + other.cost_unknown,
            cost_estimated=self.cost_estimated + other.cost_estimated,
            baseline_pusd=opt(self.baseline_pusd, other.baseline_pusd),
            baseline_unknown=self.baseline_unknown + other.baseline_unknown,
            saved_pusd=opt(self.saved_pusd, other.saved_pusd),
            saved_unknown=self.saved_unknown + other.saved_unknown,
            comparable_requests=self.comparable_requests + other.comparable_requests,
            comparable_cost_pusd=self.comparable_cost_pusd + other.comparable_cost_pusd,
            comparable_baseline_pusd=self.comparable_baseline_pusd + other.comparable_baseline_pusd,
            comparable_saved_pusd=self.comparable_saved_pusd + other.comparable_saved_pusd,
            input_tokens=self.input_tokens + other.input_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            unstable_prefix=self.unstable_prefix + other.unstable_prefix,
            history_saved_tokens=self.history_saved_tokens + other.history_saved_tokens,
            history_cache_reads_lost=self.history_cache_reads_lost + other.history_cache_reads_lost,
            history_unknown=self.history_unknown + other.history_unknown,
        )

    @classmethod
    def empty(cls, key: tuple[str | None, ...] = ()) -> GroupTotals:
        return cls(key, 0, 0, 0, None, 0, 0, None, 0, None, 0, 0, 0, 0, 0)


@runtime_checkable
class LedgerWriter(Protocol):
    """Appends ledger rows.  ``record`` returns once the row is durable (committed)."""

    async def record(self, row: LedgerRow) -> None: ...


@runtime_checkable
class LedgerReader(Protocol):
    """The query interface of the ledger: ``thrifty report`` uses it, and so will an
    advisor and a dashboard.  Time bounds select ``since <= ts < until`` (either
    optional, unix seconds)."""

    @property
    def location(self) -> str:
        """Where the ledger is, for people: a file path, or a URL without credentials."""
        ...

    async def summary(
        self,
        group_by: Sequence[str] = (),
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[GroupTotals]:
        """Totals per group of ``group_by`` (dimensions from GROUP_DIMENSIONS), exact.
        No dimension: one group with the totals (none if no row matches).  Groups come
        in no particular order."""
        ...

    async def summaries(
        self,
        group_bys: Sequence[Sequence[str]],
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[list[GroupTotals]]:
        """One :meth:`summary` per entry of ``group_bys``, all read from one consistent
        snapshot (rows committed meanwhile appear in none or all of them)."""
        ...

    async def rows(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[LedgerRow]:
        """The rows themselves, oldest first (with their savings and calls)."""
        ...


# -- caches and counters -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheStats:
    """``entries`` and ``bytes`` (key + value bytes) are the store's, shared by every
    process and including expired entries not yet purged; ``hits``, ``misses``,
    ``evictions`` and ``expired`` count this instance's own operations since it opened."""

    entries: int
    bytes: int
    hits: int
    misses: int
    evictions: int
    expired: int
    max_entries: int
    max_bytes: int


@runtime_checkable
class Cache(Protocol):
    """A bounded byte cache with per-entry TTL and an optional tag per entry.

    Bounds: at most ``max_entries`` entries and ``max_bytes`` bytes (key + value); a
    ``set`` that would exceed them first drops expired entries, then evicts the least
    recently used (a backend documents how exact its recency is).  When ``set`` returns,
    the bounds hold.  A value larger than the backend's ``max_value_bytes`` raises
    ``ValueError``.
    """

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` if absent or expired."""
        ...

    async def set(
        self, key: str, value: bytes, *, ttl_s: float | None = None, tag: str | None = None
    ) -> None:
        """Store ``value`` (replacing any), expiring after ``ttl_s`` seconds (``None``:
        only by eviction).  ``tag`` (e.g. a task name) lets :meth:`clear` drop a set of
        entries whatever their keys."""
        ...

    async def delete(self, key: str) -> bool:
        """Drop ``key``; ``True`` if it was there (expired or not)."""
        ...

    async def clear(self, *, prefix: str | None = None, tag: str | None = None) -> int:
        """Drop the entries whose key starts with ``prefix`` and/or whose tag is ``tag``
        (both given: both must match; neither: everything).  Returns how many."""
        ...

    async def stats(self) -> CacheStats: ...

    async def close(self) -> None: ...


@runtime_checkable
class Counters(Protocol):
    """Integer counters, optionally in fixed time windows (rates, debouncing).

    ``incr(key, window_s=60)`` starts a window at the first increment; the counter reads
    0 again once the window has passed, and the next increment starts a new window.  The
    ``window_s`` of later increments within a window is ignored.  For debouncing:
    ``await counters.incr(key, window_s=T) == 1`` is true once per window.
    """

    async def incr(self, key: str, by: int = 1, *, window_s: float | None = None) -> int:
        """Add ``by`` (may be negative) atomically across processes; return the new value."""
        ...

    async def get(self, key: str) -> int:
        """The current value (0 if absent or its window has passed)."""
        ...

    async def delete(self, key: str) -> bool: ...

    async def close(self) -> None: ...
