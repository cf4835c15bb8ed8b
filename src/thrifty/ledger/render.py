"""Human text for a :class:`~thrifty.ledger.report.Report`.

Unpriced calls are flagged loudly: a WARNING block names the models with no known price,
and a cost with no priced request is shown as ``unknown``, never ``$0``.  A cost that
sums priced requests while others are unpriced is shown as ``$x + unknown``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from thrifty.ledger.report import Report, ReportLine

_CENT_MICROS = Decimal("0.000001")
_HEADERS = ("requests", "errors", "cost", "baseline", "saved", "unpriced")


def money(value: Decimal) -> str:
    """``$1,234.567890``: rounded to the micro-dollar for reading (JSON stays exact)."""
    return f"${value.quantize(_CENT_MICROS, rounding=ROUND_HALF_EVEN):,}"


def cost_cell(cost: Decimal | None, unpriced: int) -> str:
    if cost is None:
        return "unknown" if unpriced else "$0"
    return f"{money(cost)} + unknown" if unpriced else money(cost)


def baseline_cell(baseline: Decimal | None) -> str:
    return "unknown" if baseline is None else money(baseline)


def _cells(line: ReportLine) -> tuple[str, ...]:
    return (
        line.key,
        f"{line.requests:,}",
        f"{line.errors:,}",
        cost_cell(line.cost_usd, line.unpriced_requests),
        baseline_cell(line.baseline_usd),
        money(line.saved_usd),
        f"{line.unpriced_requests:,}" if line.unpriced_requests else "-",
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
    count = report.totals.unpriced_requests
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
    saved = money(line.saved_usd)
    if line.baseline_usd:
        share = line.saved_usd / line.baseline_usd * 100
        saved += f"  ({share.quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}% of baseline)"
    return [
        "",
        "Totals",
        f"  requests  {line.requests:,}  (errors: {line.errors:,},"
        f" unpriced: {line.unpriced_requests:,})",
        f"  cost      {cost_cell(line.cost_usd, line.unpriced_requests)}",
        f"  baseline  {baseline_cell(line.baseline_usd)}",
        f"  saved     {saved}",
    ]


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
    out += _table("By lever", "lever", report.by_lever)
    out += _table("By tenant", "tenant", report.by_tenant)
    out += _warning(report)
    return "\n".join(out) + "\n"
