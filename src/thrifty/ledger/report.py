"""``thrifty report``: totals and breakdowns of the ledger, read through a
:class:`~thrifty.store.protocols.LedgerReader` (no SQL here: see ``ledger/query.py``).

Conventions for a :class:`ReportLine` (unknown stays unknown, and says how much):

* ``cost_usd`` sums the requests whose cost is known; ``cost_unknown`` counts the others.
  ``cost_estimated`` counts the requests in that sum whose cost rests on estimated token
  counts (a stream cut short).  ``baseline_usd`` / ``baseline_unknown`` and ``saved_usd``
  / ``saved_unknown`` likewise.  A total is ``None`` when no request of the line has it
  known: unknown, never $0.
* The three totals may cover different requests.  ``comparable_*`` are the sums over the
  same requests for all three (cost, baseline and saving known), and
  :attr:`ReportLine.saved_share` is computed from them only.
* ``by_lever``: the requests whose savings name the lever; ``saved`` is the lever's own
  share, and a share that is unknown is counted in that lever's ``saved_unknown``.
* ``errors`` counts requests answered with status >= 400 or carrying an error; ``calls``
  the upstream calls made (a cache hit makes none, a cascade may make two).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Context, Decimal
from typing import Any

from thrifty.ledger.money import optional_pico_to_usd, pico_to_usd, usd_text
from thrifty.store.protocols import GroupTotals, LedgerReader

NONE_KEY = "(none)"
_FINE = ("day", "task", "tenant", "requested_model", "model", "price_source", "truncated")
NO_USAGE_TAG = " [no usage reported]"
_SHARE_CONTEXT = Context(prec=28)


@dataclass(frozen=True, slots=True)
class ReportLine:
    key: str
    requests: int
    errors: int
    calls: int
    cost_usd: Decimal | None
    cost_unknown: int
    cost_estimated: int
    baseline_usd: Decimal | None
    baseline_unknown: int
    saved_usd: Decimal | None
    saved_unknown: int
    comparable_requests: int
    comparable_cost_usd: Decimal
    comparable_baseline_usd: Decimal
    comparable_saved_usd: Decimal

    @property
    def saved_share(self) -> Decimal | None:
        """Saved / baseline over the requests where cost, baseline and saving are all
        known (``None`` if there are none, or their baseline is not positive)."""
        if self.comparable_requests == 0 or self.comparable_baseline_usd <= 0:
            return None
        return _SHARE_CONTEXT.divide(self.comparable_saved_usd, self.comparable_baseline_usd)


@dataclass(frozen=True, slots=True)
class Truncations:
    """A task's answers cut by their length limit (as the upstream said, levers or not), of all
    its requests: a cap that is too tight shows here."""

    task: str
    truncated: int
    requests: int


@dataclass(frozen=True, slots=True)
class CacheLine:
    """A task's prompt tokens and the parts of them a provider's cache served
    (``cache_read_tokens``) or stored (``cache_write_tokens``)."""

    key: str
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    unstable_prefix: int = 0  # requests flagged for a prefix that changes every time

    @property
    def hit_ratio(self) -> Decimal | None:
        """Cache reads / prompt tokens (``None`` with no prompt tokens)."""
        if self.input_tokens <= 0:
            return None
        return _SHARE_CONTEXT.divide(Decimal(self.cache_read_tokens), Decimal(self.input_tokens))


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """A task's requests the history lever trimmed: the prompt tokens its cuts removed,
    the cache reads they gave up (kept turns whose cache a moved cut lost), and the net
    dollars the lever booked (tokens saved minus the cache lost, priced).  The token
    figures are the ledger's own columns; ``figures_unknown`` counts requests booked
    before it had them whose detail did not hold them either (not in the token sums)."""

    task: str
    requests: int
    saved_tokens: int
    cache_reads_lost: int
    saved_usd: Decimal | None  # None: unknown for every one of them
    saved_unknown: int
    figures_unknown: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    path: str  # the reader's location
    since: float | None
    until: float | None
    totals: ReportLine
    by_day: tuple[ReportLine, ...]
    by_task: tuple[ReportLine, ...]
    by_model: tuple[ReportLine, ...]  # key "requested -> used", or one name if the same
    by_lever: tuple[ReportLine, ...]  # requests that credited the lever; saved = its share
    by_tenant: tuple[ReportLine, ...]
    unpriced_models: tuple[tuple[str, int], ...]  # model -> requests of unknown cost
    truncated_by_task: tuple[Truncations, ...] = ()  # tasks with any, most first
    cache_by_task: tuple[CacheLine, ...] = ()  # tasks with prompt tokens, most first
    history_by_task: tuple[HistoryLine, ...] = ()  # tasks the history lever trimmed


def line_from_totals(key: str, totals: GroupTotals) -> ReportLine:
    return ReportLine(
        key=key,
        requests=totals.requests,
        errors=totals.errors,
        calls=totals.calls,
        cost_usd=optional_pico_to_usd(totals.cost_pusd),
        cost_unknown=totals.cost_unknown,
        cost_estimated=totals.cost_estimated,
        baseline_usd=optional_pico_to_usd(totals.baseline_pusd),
        baseline_unknown=totals.baseline_unknown,
        saved_usd=optional_pico_to_usd(totals.saved_pusd),
        saved_unknown=totals.saved_unknown,
        comparable_requests=totals.comparable_requests,
        comparable_cost_usd=pico_to_usd(totals.comparable_cost_pusd),
        comparable_baseline_usd=pico_to_usd(totals.comparable_baseline_pusd),
        comparable_saved_usd=pico_to_usd(totals.comparable_saved_pusd),
    )


def _name(value: str | None) -> str:
    return NONE_KEY if value is None else value


def _model_key(key: tuple[str | None, ...]) -> str:
    requested, used = key[0], key[1]
    if requested == used:
        return _name(used)
    return f"{_name(requested)} -> {_name(used)}"


def _spend_order(line: ReportLine) -> tuple[Decimal, int, str]:
    return (-(line.cost_usd or Decimal(0)), -line.requests, line.key)


def _merge(
    groups: Iterable[GroupTotals], name: Callable[[tuple[str | None, ...]], str]
) -> dict[str, GroupTotals]:
    merged: dict[str, GroupTotals] = {}
    for group in groups:
        key = name(group.key)
        merged[key] = merged[key] + group if key in merged else group
    return merged


def _ranked(merged: dict[str, GroupTotals]) -> tuple[ReportLine, ...]:
    return tuple(sorted((line_from_totals(k, t) for k, t in merged.items()), key=_spend_order))


def _unpriced(groups: Iterable[GroupTotals]) -> tuple[tuple[str, int], ...]:
    """``(model, requests of unknown cost)``, most first; calls whose upstream reported
    no usage are tagged as such."""
    counts: dict[str, int] = {}
    for group in groups:
        if not group.cost_unknown:
            continue
        requested, used, source = group.key[3:6]
        name = _name(used if used is not None else requested)
        if source == "no_usage":
            name += NO_USAGE_TAG
        counts[name] = counts.get(name, 0) + group.cost_unknown
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _truncations(groups: Iterable[GroupTotals]) -> tuple[Truncations, ...]:
    counts: dict[str, tuple[int, int]] = {}
    for group in groups:
        task = _name(group.key[1])
        cut, total = counts.get(task, (0, 0))
        if group.key[6] == "1":
            cut += group.requests
        counts[task] = (cut, total + group.requests)
    lines = (Truncations(task, cut, total) for task, (cut, total) in counts.items() if cut)
    return tuple(sorted(lines, key=lambda line: (-line.truncated, line.task)))


async def build_report(
    reader: LedgerReader, *, since: float | None = None, until: float | None = None
) -> Report:
    """Aggregate the ledger behind ``reader`` over ``since <= ts < until`` (bounds
    optional), from one consistent snapshot.  The SQLite reader raises
    :class:`~thrifty.errors.ConfigError` for a missing file."""
    # Two scans: every request dimension at once (folded here, exactly), and the levers.
    fine, by_lever, by_task_lever = await reader.summaries(
        [_FINE, ("lever",), ("task", "lever")], since=since, until=until
    )
    total = GroupTotals.empty()
    for group in fine:
        total = total + group
    days = _merge(fine, lambda key: _name(key[0]))
    return Report(
        path=reader.location,
        since=since,
        until=until,
        totals=line_from_totals("total", total),
        by_day=tuple(line_from_totals(day, days[day]) for day in sorted(days)),
        by_task=_ranked(_merge(fine, lambda key: _name(key[1]))),
        by_model=_ranked(_merge(fine, lambda key: _model_key(key[3:5]))),
        by_lever=_ranked(_merge(by_lever, lambda key: _name(key[0]))),
        by_tenant=_ranked(_merge(fine, lambda key: _name(key[2]))),
        unpriced_models=_unpriced(group for group in fine if group.cost_unknown),
        truncated_by_task=_truncations(fine),
        cache_by_task=_cache_lines(_merge(fine, lambda key: _name(key[1]))),
        history_by_task=_history_lines(by_task_lever),
    )


def _history_lines(groups: Iterable[GroupTotals]) -> tuple[HistoryLine, ...]:
    lines = (
        HistoryLine(
            _name(g.key[0]),
            g.requests,
            g.history_saved_tokens,
            g.history_cache_reads_lost,
            optional_pico_to_usd(g.saved_pusd),
            g.saved_unknown,
            g.history_unknown,
        )
        for g in groups
        if g.key[1] == "history"
    )
    return tuple(sorted(lines, key=lambda line: (-line.saved_tokens, line.task)))


def _cache_lines(merged: dict[str, GroupTotals]) -> tuple[CacheLine, ...]:
    lines = (
        CacheLine(k, t.input_tokens, t.cache_read_tokens, t.cache_write_tokens, t.unstable_prefix)
        for k, t in merged.items()
        if t.input_tokens > 0
    )
    return tuple(sorted(lines, key=lambda line: (-line.input_tokens, line.key)))


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else usd_text(value)


def line_to_json(line: ReportLine) -> dict[str, Any]:
    """Money as exact decimal strings; ``null`` = unknown.  ``comparable`` holds the sums
    over the requests where cost, baseline and saving are all known (divide its
    ``saved_usd`` by its ``baseline_usd`` for the share saved)."""
    return {
        "key": line.key,
        "requests": line.requests,
        "errors": line.errors,
        "calls": line.calls,
        "cost_usd": _usd(line.cost_usd),
        "cost_unknown": line.cost_unknown,
        "cost_estimated": line.cost_estimated,
        "baseline_usd": _usd(line.baseline_usd),
        "baseline_unknown": line.baseline_unknown,
        "saved_usd": _usd(line.saved_usd),
        "saved_unknown": line.saved_unknown,
        "comparable": {
            "requests": line.comparable_requests,
            "cost_usd": usd_text(line.comparable_cost_usd),
            "baseline_usd": usd_text(line.comparable_baseline_usd),
            "saved_usd": usd_text(line.comparable_saved_usd),
        },
    }


def _when(ts: float | None) -> str | None:
    """A bound as people wrote it: ``2026-11-01`` for a midnight (UTC), else ISO 8601."""
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    if moment.time() == time.min:
        return moment.date().isoformat()
    return moment.isoformat().replace("+00:00", "Z")


def report_to_json(report: Report) -> dict[str, Any]:
    """A JSON-serialisable dict: money as exact decimal strings, ``null`` = unknown."""
    return {
        "path": report.path,
        "since": _when(report.since),
        "until": _when(report.until),
        "totals": line_to_json(report.totals),
        "by_day": [line_to_json(line) for line in report.by_day],
        "by_task": [line_to_json(line) for line in report.by_task],
        "by_model": [line_to_json(line) for line in report.by_model],
        "by_lever": [line_to_json(line) for line in report.by_lever],
        "by_tenant": [line_to_json(line) for line in report.by_tenant],
        "unpriced_models": [
            {"model": model, "requests": count} for model, count in report.unpriced_models
        ],
        "truncated_by_task": [
            {"task": line.task, "truncated": line.truncated, "requests": line.requests}
            for line in report.truncated_by_task
        ],
        "cache_by_task": [
            {
                "task": line.key,
                "input_tokens": line.input_tokens,
                "cache_read_tokens": line.cache_read_tokens,
                "cache_write_tokens": line.cache_write_tokens,
                "hit_ratio": None if line.hit_ratio is None else str(line.hit_ratio),
                "unstable_prefix": line.unstable_prefix,
            }
            for line in report.cache_by_task
        ],
        "history_by_task": [
            {
                "task": line.task,
                "requests": line.requests,
                "saved_tokens": line.saved_tokens,
                "cache_reads_lost": line.cache_reads_lost,
                "saved_usd": _usd(line.saved_usd),
                "saved_unknown": line.saved_unknown,
                "figures_unknown": line.figures_unknown,
            }
            for line in report.history_by_task
        ],
    }
