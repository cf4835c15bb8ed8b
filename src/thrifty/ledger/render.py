"""Human text for a :class:`~thrifty.ledger.report.Report`.

Unknown is shown as unknown, never as ``$0``: a total says how many requests it covers
and how many it leaves out ("$1.20 over 950 of 1,000 requests (50 unknown)"; in tables
"$1.20 +50 unknown"), and a total no request has known is ``unknown``.  Calls with no
known cost are also named in a loud WARNING block.  The share saved is computed over the
requests where cost, baseline and saving are all known, and says so.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from thrifty.ledger.report import Report, ReportLine

_MICROS = Decimal("0.000001")
_HEADERS = ("requests", "errors", "calls", "cost", "estimated", "baseline", "saved", "saved %")


def money(value: Decimal) -> str:
    """``$1,234.567890``: rounded to the micro-dollar for reading (JSON stays exact)."""
    text = f"{value.quantize(_MICROS, rounding=ROUND_HALF_EVEN):,}"
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def amount_cell(total: Decimal | None, unknown: int) -> str:
    """A table cell: ``$x``, ``$x +N unknown``, or ``unknown`` (never ``$0``)."""
    if total is None:
        return "unknown"
    return f"{money(total)} +{unknown:,} unknown" if unknown else money(total)


def amount_text(total: Decimal | None, unknown: int, requests: int) -> str:
    """A sentence: ``$x``, ``$x over K of N requests (U unknown)``, or ``unknown``."""
    if total is None:
        return f"unknown (all {requests:,} requests)" if requests != 1 else "unknown"
    if not unknown:
        return money(total)
    return (
        f"{money(total)} over {requests - unknown:,} of {requests:,} requests ({unknown:,} unknown)"
    )


def share_text(line: ReportLine) -> str:
    share = line.saved_share
    if share is None:
        return "-"
    return f"{(share * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}%"


def _cells(line: ReportLine) -> tuple[str, ...]:
    return (
        line.key,
        f"{line.requests:,}",
        f"{line.errors:,}",
        f"{line.calls:,}",
        amount_cell(line.cost_usd, line.cost_unknown),
        f"{line.cost_estimated:,}" if line.cost_estimated else "-",
        amount_cell(line.baseline_usd, line.baseline_unknown),
        amount_cell(line.saved_usd, line.saved_unknown),
        share_text(line),
    )


def _table(title: str, key_header: str, lines: tuple[ReportLine, ...]) -> list[str]:
    if not lines:
        return []
    rows = [(key_header, *_HEADERS), *(_cells(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = ["", title]
    for row in rows:
        key = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        out.append("  " + "  ".join((key, *rest)).rstrip())
    return out


def _when(ts: float | None, default: str) -> str:
    if ts is None:
        return default
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _warning(report: Report) -> list[str]:
    count = report.totals.cost_unknown
    if not count:
        return []
    models = ", ".join(f"{model} ({n:,})" for model, n in report.unpriced_models)
    bar = "!" * 78
    return [
        "",
        bar,
        f"WARNING: {count:,} call{'s' if count != 1 else ''} with no known cost: {models}",
        "Their cost is UNKNOWN and NOT included in any total below.  Add a price override",
        "for models with no known price (see docs/configuration.md); '[no usage reported]'",
        "marks calls whose upstream sent no token counts (e.g. a stream the client left).",
        bar,
    ]


def _totals(line: ReportLine) -> list[str]:
    cost = amount_text(line.cost_usd, line.cost_unknown, line.requests)
    if line.cost_estimated:
        cost += f", of which {line.cost_estimated:,} estimated"
    out = [
        "",
        "Totals",
        f"  requests  {line.requests:,}  (errors: {line.errors:,},"
        f" upstream calls: {line.calls:,}, unknown cost: {line.cost_unknown:,})",
        f"  cost      {cost}",
        f"  baseline  {amount_text(line.baseline_usd, line.baseline_unknown, line.requests)}",
        f"  saved     {amount_text(line.saved_usd, line.saved_unknown, line.requests)}",
    ]
    if line.saved_share is not None:
        every = line.comparable_requests == line.requests
        n = line.comparable_requests
        over = (
            f"all {n:,} requests"
            if every and n != 1
            else "its 1 request"
            if every
            else f"the {n:,} request{'s' if n != 1 else ''} where cost, baseline and saving"
            " are all known"
        )
        out.append(f"            = {share_text(line)} of baseline, over {over}")
    return out


def _truncated(report: Report) -> list[str]:
    if not report.truncated_by_task:
        return []
    out = ["", "Answers cut by their length limit (x-thrifty-truncated), by task"]
    width = max(len(line.task) for line in report.truncated_by_task)
    for line in report.truncated_by_task:
        share = (Decimal(line.truncated * 100) / line.requests).quantize(Decimal("0.1"))
        out.append(
            f"  {line.task.ljust(width)}  {line.truncated:,} of {line.requests:,} ({share}%)"
        )
    return out


def _cache_table(report: Report) -> list[str]:
    """Prompt caching per task, once any request read or wrote a provider's cache."""
    lines = report.cache_by_task
    if not any(
        line.cache_read_tokens or line.cache_write_tokens or line.unstable_prefix for line in lines
    ):
        return []
    rows: list[tuple[str, ...]] = [
        ("task", "prompt tokens", "cache reads", "cache writes", "hit ratio", "unstable prefix")
    ]
    for line in lines:
        ratio = line.hit_ratio
        share = "-" if ratio is None else f"{(ratio * 100).quantize(Decimal('0.1'))}%"
        counts = (line.input_tokens, line.cache_read_tokens, line.cache_write_tokens)
        rows.append((line.key, *(f"{n:,}" for n in counts), share, f"{line.unstable_prefix:,}"))
    title = "Prompt cache by task (hit ratio: the share of prompt tokens read from cache)"
    return ["", title, *_aligned(rows)]


def _history_table(report: Report) -> list[str]:
    """The history lever per task: tokens its cuts saved, cache reads they lost, and the
    net dollars booked."""
    if not report.history_by_task:
        return []
    rows: list[tuple[str, ...]] = [
        ("task", "requests", "tokens saved", "cache reads lost", "net saved")
    ]
    for line in report.history_by_task:
        net = amount_cell(line.saved_usd, line.saved_unknown)
        counts = (line.requests, line.saved_tokens, line.cache_reads_lost)
        rows.append((line.task, *(f"{n:,}" for n in counts), net))
    title = "Chat history by task (net saved: tokens saved minus cache lost, in dollars)"
    unknown = sum(line.figures_unknown for line in report.history_by_task)
    note = []
    if unknown:
        note = [
            f"  {unknown:,} requests booked by an older thrifty without these figures: "
            "their tokens are not in the counts (their dollars are)"
        ]
    return ["", title, *_aligned(rows), *note]


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Table lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        out.append("  " + "  ".join(cells).rstrip())
    return out


_LEGEND = (
    "'+N unknown': N requests whose amount is unknown, not in the sum.  'estimated':"
    " requests whose cost rests on estimated token counts.  'saved %': over the requests"
    " where cost, baseline and saving are all known."
)


def render_report(report: Report) -> str:
    """The report as a plain-text table (ends with a newline)."""
    period = f"{_when(report.since, 'the beginning')} .. {_when(report.until, 'now')}"
    out = [f"thrifty report: {report.path}", f"period: {period}"]
    if report.totals.requests == 0:
        out += ["", "No requests recorded in this period."]
        return "\n".join(out) + "\n"
    out += _warning(report)
    out += _totals(report.totals)
    out += _table("By day (UTC)", "day", report.by_day)
    out += _table("By task", "task", report.by_task)
    out += _table("By model (requested -> used)", "model", report.by_model)
    out += _table("By lever (saved: the lever's own share)", "lever", report.by_lever)
    out += _table("By tenant", "tenant", report.by_tenant)
    out += _truncated(report)
    out += _cache_table(report)
    out += _history_table(report)
    out += ["", *textwrap.wrap(_LEGEND, 88)]
    out += _warning(report)
    return "\n".join(out) + "\n"
