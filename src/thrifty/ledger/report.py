"""The queries behind ``thrifty report``: totals and breakdowns, summed exactly.

Every amount is an SQL ``SUM`` of integer pico-dollars, grouped by (key, UTC day) so a
single SQLite integer never has to hold more than one key's one day of spend; the few
groups are then added in Python (unbounded integers).  An overflowing day raises.

Conventions for a :class:`ReportLine`:

* ``cost_usd`` sums the *priced* requests only; ``unpriced_requests`` counts the rest
  (``cost`` unknown).  ``cost_usd`` is ``None`` when no request of the line is priced:
  unknown, never $0.
* ``baseline_usd`` likewise sums the known baselines (``None`` if none is known).
* ``saved_usd`` sums the per-lever savings the requests recorded.
* ``errors`` counts requests answered with status >= 400 or carrying an error.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from thrifty.ledger.money import optional_pico_to_usd, pico_to_usd, usd_text
from thrifty.ledger.schema import connect, time_range

NONE_KEY = "(none)"

_SUMS = (
    "count(*), sum(r.status >= 400 OR r.error IS NOT NULL), sum(r.cost_pusd),"
    " sum(r.baseline_pusd), sum({saved}), sum(r.cost_pusd IS NULL)"
)


@dataclass(frozen=True, slots=True)
class ReportLine:
    key: str
    requests: int
    errors: int
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    saved_usd: Decimal
    unpriced_requests: int


@dataclass(frozen=True, slots=True)
class Report:
    path: str
    since: float | None
    until: float | None
    totals: ReportLine
    by_day: tuple[ReportLine, ...]
    by_task: tuple[ReportLine, ...]
    by_model: tuple[ReportLine, ...]  # key "requested -> used", or one name if the same
    by_lever: tuple[ReportLine, ...]  # requests that credited the lever; saved = its share
    by_tenant: tuple[ReportLine, ...]
    unpriced_models: tuple[tuple[str, int], ...]  # model -> unpriced requests, most first


class _Acc:
    """Running integer sums for one line."""

    __slots__ = ("baseline", "cost", "errors", "requests", "saved", "unpriced")

    def __init__(self) -> None:
        self.requests = self.errors = self.saved = self.unpriced = 0
        self.cost: int | None = None
        self.baseline: int | None = None

    def add(self, sums: tuple[Any, ...]) -> None:
        requests, errors, cost, baseline, saved, unpriced = sums
        self.requests += requests
        self.errors += errors or 0
        self.saved += saved or 0
        self.unpriced += unpriced or 0
        if cost is not None:
            self.cost = (self.cost or 0) + cost
        if baseline is not None:
            self.baseline = (self.baseline or 0) + baseline

    def line(self, key: str) -> ReportLine:
        return ReportLine(
            key=key,
            requests=self.requests,
            errors=self.errors,
            cost_usd=optional_pico_to_usd(self.cost),
            baseline_usd=optional_pico_to_usd(self.baseline),
            saved_usd=pico_to_usd(self.saved),
            unpriced_requests=self.unpriced,
        )


def _name(value: Any) -> str:
    return NONE_KEY if value is None else str(value)


def _model_key(requested: Any, used: Any) -> str:
    if requested == used:
        return _name(used)
    return f"{_name(requested)} -> {_name(used)}"


def _spend_order(line: ReportLine) -> tuple[Decimal, int, str]:
    return (-(line.cost_usd or Decimal(0)), -line.requests, line.key)


def _lines(
    results: Iterable[tuple[Any, ...]],
    width: int,
    key: Callable[..., str],
) -> dict[str, _Acc]:
    """Fold ``(key columns..., day, sums...)`` result rows into one accumulator per key."""
    accs: dict[str, _Acc] = {}
    for result in results:
        name = key(*result[:width])
        accs.setdefault(name, _Acc()).add(tuple(result[width + 1 :]))
    return accs


def _query(
    conn: sqlite3.Connection,
    columns: tuple[str, ...],
    since: float | None,
    until: float | None,
    *,
    lever: bool = False,
) -> list[tuple[Any, ...]]:
    where, params = time_range(since, until, column="r.ts")
    select = ", ".join((*columns, "date(r.ts, 'unixepoch')"))
    source = "requests r"
    saved = "r.saved_pusd"
    if lever:
        source = "savings s JOIN requests r ON r.request_id = s.request_id"
        saved = "s.saved_pusd"
    group = ", ".join(str(i) for i in range(1, len(columns) + 2))
    sql = f"SELECT {select}, {_SUMS.format(saved=saved)} FROM {source}{where} GROUP BY {group}"
    return conn.execute(sql, params).fetchall()


def build_report(
    path: str | os.PathLike[str], *, since: float | None = None, until: float | None = None
) -> Report:
    """Aggregate the ledger at ``path`` over ``since <= ts < until`` (bounds optional).
    A missing file raises :class:`~thrifty.errors.ConfigError` naming the path."""
    conn = connect(path, create=False)
    try:
        day_rows = _query(conn, (), since, until)
        totals = _Acc()
        by_day: dict[str, _Acc] = {}
        for row in day_rows:
            sums = tuple(row[1:])
            totals.add(sums)
            by_day.setdefault(row[0], _Acc()).add(sums)

        def ranked(accs: dict[str, _Acc]) -> tuple[ReportLine, ...]:
            return tuple(sorted((acc.line(k) for k, acc in accs.items()), key=_spend_order))

        by_task = _lines(_query(conn, ("r.task",), since, until), 1, _name)
        by_tenant = _lines(_query(conn, ("r.tenant",), since, until), 1, _name)
        by_model = _lines(
            _query(conn, ("r.requested_model", "r.model"), since, until), 2, _model_key
        )
        by_lever = _lines(_query(conn, ("s.lever",), since, until, lever=True), 1, _name)
        where, params = time_range(since, until)
        unpriced_where = f"{where} AND" if where else " WHERE"
        unpriced = conn.execute(
            "SELECT coalesce(model, requested_model)"
            " || CASE WHEN price_source = 'no_usage' THEN ' [no usage reported]' ELSE '' END,"
            " count(*) FROM requests"
            f"{unpriced_where} cost_pusd IS NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            params,
        ).fetchall()
    finally:
        conn.close()
    return Report(
        path=os.fspath(path),
        since=since,
        until=until,
        totals=totals.line("total"),
        by_day=tuple(by_day[day].line(day) for day in sorted(by_day)),
        by_task=ranked(by_task),
        by_model=ranked(by_model),
        by_lever=ranked(by_lever),
        by_tenant=ranked(by_tenant),
        unpriced_models=tuple((_name(model), count) for model, count in unpriced),
    )


def _line_json(line: ReportLine) -> dict[str, Any]:
    return {
        "key": line.key,
        "requests": line.requests,
        "errors": line.errors,
        "cost_usd": None if line.cost_usd is None else usd_text(line.cost_usd),
        "baseline_usd": None if line.baseline_usd is None else usd_text(line.baseline_usd),
        "saved_usd": usd_text(line.saved_usd),
        "unpriced_requests": line.unpriced_requests,
    }


def report_to_json(report: Report) -> dict[str, Any]:
    """A JSON-serialisable dict: money as exact decimal strings, ``null`` = unknown."""
    return {
        "path": report.path,
        "since": report.since,
        "until": report.until,
        "totals": _line_json(report.totals),
        "by_day": [_line_json(line) for line in report.by_day],
        "by_task": [_line_json(line) for line in report.by_task],
        "by_model": [_line_json(line) for line in report.by_model],
        "by_lever": [_line_json(line) for line in report.by_lever],
        "by_tenant": [_line_json(line) for line in report.by_tenant],
        "unpriced_models": [
            {"model": model, "requests": count} for model, count in report.unpriced_models
        ],
    }
