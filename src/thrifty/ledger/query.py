"""The SQLite :class:`~thrifty.store.protocols.LedgerReader`: the only place that writes
SQL to read the ledger's totals.

Exactness: every figure is a ``SUM`` of integers.  Each query is grouped by the requested
dimensions *and* the UTC day, so one SQLite integer only ever holds one group's one day
(about 9.2 million USD of pico-dollars); the days are then added in Python (unbounded
integers).  If even one day overflows, the query is run again without ``SUM`` and the
rows are added in Python: slower, still exact.

Every call opens its own connection in a worker thread (never on the event loop), reads
in one transaction (a consistent snapshot in WAL mode) and closes it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.ledger.row import BACKGROUND_ENDPOINT, BACKGROUND_SUFFIX, LedgerRow
from thrifty.ledger.schema import connect, time_range
from thrifty.store.protocols import GroupTotals, check_group_by

if TYPE_CHECKING:
    from thrifty.ledger.store import LedgerStore
    from thrifty.store.protocols import LedgerReader, LedgerWriter

# The prompt-cache planner's mark for a prompt whose prefix changed on each recent request.
UNSTABLE_PREFIX_MARK = "unstable-prefix"


# SQL for each dimension (the values are fixed here, never taken from the caller).
_DIMENSIONS = {
    "day": "date(r.ts, 'unixepoch')",
    "task": "r.task",
    "tenant": "r.tenant",
    "requested_model": "r.requested_model",
    "requested_alias": "r.requested_alias",
    "model": "r.model",
    "provider": "r.provider",
    "service_tier": "r.service_tier",
    "dialect": "r.dialect",
    "endpoint": "r.endpoint",
    "price_source": "r.price_source",
    "failure": "r.failure",
    "lever": "s.lever",
    "truncated": "r.truncated",
}
_DAY = _DIMENSIONS["day"]


# A background create and the row that books its work are one request: the booking is not
# a request nor a call of its own, and the create's unknown cost is settled by it.
_BOOKING = f"(r.endpoint = '{BACKGROUND_ENDPOINT}')"
# A figure unknown on a row counts as unknown unless the row is a create with a booking
# row: one lookup by request id (its unique index), made only for a row whose figure is
# NULL (CASE stops there; an AND would look up every row), never a scan of the ledger.
_SETTLED_BY = (
    f"EXISTS (SELECT 1 FROM requests b WHERE b.request_id = r.request_id || '{BACKGROUND_SUFFIX}'"
    f" AND b.endpoint = '{BACKGROUND_ENDPOINT}')"
)


def _unknown(figure: str) -> str:
    """1 when ``figure`` is NULL on a row no booking row settles, else 0."""
    return f"CASE WHEN {figure} IS NULL THEN NOT {_SETTLED_BY} ELSE 0 END"


def _measures(saved: str) -> tuple[str, ...]:
    """Per-row expressions, in GroupTotals' field order; each is summed (NULLs skipped)."""
    known = f"(r.cost_pusd IS NOT NULL AND r.baseline_pusd IS NOT NULL AND {saved} IS NOT NULL)"
    return (
        f"(NOT {_BOOKING})",
        "(r.status >= 400 OR r.error IS NOT NULL)",
        f"CASE WHEN {_BOOKING} THEN 0 ELSE r.calls END",
        "r.cost_pusd",
        _unknown("r.cost_pusd"),
        "(r.cost_estimated != 0 AND r.cost_pusd IS NOT NULL)",
        "r.baseline_pusd",
        _unknown("r.baseline_pusd"),
        saved,
        _unknown(saved),
        known,
        f"CASE WHEN {known} THEN r.cost_pusd ELSE 0 END",
        f"CASE WHEN {known} THEN r.baseline_pusd ELSE 0 END",
        f"CASE WHEN {known} THEN {saved} ELSE 0 END",
        "r.input_tokens",
        "r.cache_read_tokens",
        "(r.cache_write_5m_tokens + r.cache_write_1h_tokens)",
        f"(coalesce(r.detail, '') LIKE '%{UNSTABLE_PREFIX_MARK}%')",
        "coalesce(r.history_saved_tokens, 0)",
        "coalesce(r.history_cache_reads_lost, 0)",
        "(r.history_saved_tokens IS NULL)",
    )


_OPTIONAL = frozenset({3, 6, 8})  # money totals that stay None when no row has them known


class _Fold:
    """Adds result rows ``(key..., sums...)`` per key, with unbounded integers."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.sums: dict[tuple[Any, ...], list[int | None]] = {}

    def add(self, record: Sequence[Any]) -> None:
        key = tuple(record[: self.width])
        values = record[self.width :]
        acc = self.sums.get(key)
        if acc is None:
            self.sums[key] = [
                (None if i in _OPTIONAL else 0) if v is None else int(v)
                for i, v in enumerate(values)
            ]
            return
        for i, v in enumerate(values):
            if v is not None:
                current = acc[i]
                acc[i] = int(v) if current is None else current + int(v)

    def totals(self, drop_day: bool) -> list[GroupTotals]:
        merged: dict[tuple[str | None, ...], GroupTotals] = {}
        for key, acc in self.sums.items():
            name = tuple(None if k is None else str(k) for k in key)
            if drop_day:
                name = name[:-1]
            totals = _totals(name, acc)
            merged[name] = merged[name] + totals if name in merged else totals
        return list(merged.values())


def _totals(key: tuple[str | None, ...], acc: list[int | None]) -> GroupTotals:
    def n(i: int) -> int:
        return acc[i] or 0

    return GroupTotals(
        key=key,
        requests=n(0),
        errors=n(1),
        calls=n(2),
        cost_pusd=acc[3],
        cost_unknown=n(4),
        cost_estimated=n(5),
        baseline_pusd=acc[6],
        baseline_unknown=n(7),
        saved_pusd=acc[8],
        saved_unknown=n(9),
        comparable_requests=n(10),
        comparable_cost_pusd=n(11),
        comparable_baseline_pusd=n(12),
        comparable_saved_pusd=n(13),
        input_tokens=n(14),
        cache_read_tokens=n(15),
        cache_write_tokens=n(16),
        unstable_prefix=n(17),
        history_saved_tokens=n(18),
        history_cache_reads_lost=n(19),
        history_unknown=n(20),
    )


def _summary(
    conn: sqlite3.Connection,
    group_by: tuple[str, ...],
    since: float | None,
    until: float | None,
) -> list[GroupTotals]:
    lever = "lever" in group_by
    saved = "s.saved_pusd" if lever else "r.saved_pusd"
    source = "savings s JOIN requests r ON r.request_id = s.request_id" if lever else "requests r"
    where, params = time_range(since, until, column="r.ts")
    keys = [_DIMENSIONS[d] for d in group_by]
    drop_day = "day" not in group_by
    if drop_day:
        keys.append(_DAY)
    measures = _measures(saved)
    select = ", ".join((*keys, *(f"sum({m})" for m in measures)))
    group = ", ".join(str(i) for i in range(1, len(keys) + 1))
    fold = _Fold(len(keys))
    try:
        records: Iterable[Sequence[Any]] = conn.execute(
            f"SELECT {select} FROM {source}{where} GROUP BY {group}", params
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "overflow" not in str(exc):
            raise
        # One group's day exceeds a 64-bit sum: add the rows in Python instead.
        records = conn.execute(
            f"SELECT {', '.join((*keys, *measures))} FROM {source}{where}", params
        )
    for record in records:
        fold.add(record)
    return fold.totals(drop_day)


def _read_snapshot(
    path: Path,
    group_bys: Sequence[tuple[str, ...]],
    since: float | None,
    until: float | None,
) -> list[list[GroupTotals]]:
    conn = connect(path, create=False)
    try:
        conn.execute("BEGIN")  # one read transaction: every summary sees the same rows
        try:
            return [_summary(conn, group_by, since, until) for group_by in group_bys]
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


class SqliteLedgerReader:
    """Reads the SQLite ledger at ``path``.  A missing file raises
    :class:`~thrifty.errors.ConfigError` naming it (reading never creates a ledger)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)

    @property
    def location(self) -> str:
        return os.fspath(self._path)

    async def summary(
        self,
        group_by: Sequence[str] = (),
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[GroupTotals]:
        (result,) = await self.summaries([group_by], since=since, until=until)
        return result

    async def summaries(
        self,
        group_bys: Sequence[Sequence[str]],
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[list[GroupTotals]]:
        checked = [check_group_by(g) for g in group_bys]
        return await asyncio.to_thread(_read_snapshot, self._path, checked, since, until)

    async def rows(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[LedgerRow]:
        from thrifty.ledger.read_rows import read_rows

        return await asyncio.to_thread(read_rows, self._path, since=since, until=until)


if TYPE_CHECKING:  # mypy checks that the SQLite classes satisfy the protocols

    def _conforms(
        store: LedgerStore, reader: SqliteLedgerReader
    ) -> tuple[LedgerWriter, LedgerReader]:
        return store, reader
