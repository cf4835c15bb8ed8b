"""The report: exact totals, unknown counted (never $0), comparable shares, per-lever
unknowns, and the reader interface it goes through."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.errors import ConfigError
from thrifty.ledger import (
    LedgerRow,
    LedgerStore,
    ReportLine,
    SqliteLedgerReader,
    build_report,
    render_report,
    report_to_json,
)
from thrifty.ledger.row import CallRecord
from thrifty.store import GROUP_DIMENSIONS, GroupTotals, LedgerReader
from thrifty.types import Call, Cost, Usage

from .conftest import make_row

DAY1 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
DAY2 = DAY1 + 86_400  # 2023-11-15
D = Decimal


def _call(model: str, cost: Decimal | None) -> CallRecord:
    return CallRecord(
        Call(model=model, provider="openai", usage=Usage(input_tokens=10, output_tokens=2)),
        Cost(usd=cost, source="genai-prices" if cost is not None else "unpriced"),
    )


def row(*, n_calls: int = 1, **fields: Any) -> LedgerRow:
    """A ledger row whose ``saved_usd`` is what the Accountant books: the sum of the
    shares when cost, baseline and every share are known, else unknown."""
    base = make_row(**fields)
    savings = base.savings
    saved = None
    if (
        "saved_usd" not in fields
        and base.cost_usd is not None
        and base.baseline_usd is not None
        and all(v is not None for v in savings.values())
    ):
        saved = sum((v for v in savings.values() if v is not None), D(0))
    extra: dict[str, Any] = {"saved_usd": fields.get("saved_usd", saved)}
    if "calls" not in fields:
        extra["calls"] = tuple(_call(base.model or "m", base.cost_usd) for _ in range(n_calls))
    return make_row(**{**fields, **extra})


ROWS = (
    # day 1: routed summarise calls for team-a (one priced on estimated tokens)
    row(
        ts=DAY1,
        cost_usd=D("0.000000123456"),
        baseline_usd=D("0.000001"),
        savings={"routing": D("0.000000876544")},
    ),
    row(
        ts=DAY1 + 60,
        cost_usd=D("0.25"),
        baseline_usd=D("1.5"),
        savings={"routing": D("1"), "prompt_cache": D("0.25")},
        cost_estimated=True,
    ),
    # day 2: a cache hit (no call), an error, two unpriced calls, one unknown share
    row(
        ts=DAY2,
        task="classify",
        tenant="team-b",
        requested_model="claude-x",
        model="claude-x",
        cost_usd=D(0),
        baseline_usd=D("0.1"),
        savings={"memo": D("0.1")},
        n_calls=0,
    ),
    row(
        ts=DAY2 + 1,
        task="classify",
        tenant="team-b",
        requested_model="claude-x",
        model="claude-x",
        cost_usd=D(0),
        baseline_usd=None,
        savings={},
        status=502,
        error="upstream_unavailable: boom",
        price_source="none",
        n_calls=0,
    ),
    row(  # unpriced model, but its baseline (the requested model) is known
        ts=DAY2 + 2,
        task=None,
        tenant=None,
        requested_model="mystery-1",
        model="mystery-1",
        cost_usd=None,
        baseline_usd=D("0.5"),
        savings={"routing": None},
        price_source="unpriced",
    ),
    row(
        ts=DAY2 + 3,
        task=None,
        tenant=None,
        requested_model="mystery-1",
        model="mystery-1",
        cost_usd=None,
        baseline_usd=None,
        savings={},
        price_source="unpriced",
    ),
    row(  # cost and baseline known, one lever's share unknown: the saving is unknown
        ts=DAY2 + 4,
        cost_usd=D("0.02"),
        baseline_usd=D("0.05"),
        savings={"routing": D("0.03"), "prompt_cache": None},
    ),
)


@pytest.fixture
async def ledger(store: LedgerStore, db_path: Path) -> Path:
    for r in ROWS:
        await store.record(r)
    return db_path


async def report_of(path: Path, **bounds: float) -> Any:
    return await build_report(SqliteLedgerReader(path), **bounds)


def _by_key(lines: tuple[ReportLine, ...]) -> dict[str, ReportLine]:
    return {line.key: line for line in lines}


async def test_totals_are_exact_and_say_what_they_leave_out(ledger: Path) -> None:
    totals = (await report_of(ledger)).totals
    assert totals == ReportLine(
        key="total",
        requests=7,
        errors=1,
        calls=5,
        cost_usd=D("0.270000123456"),
        cost_unknown=2,
        cost_estimated=1,
        baseline_usd=D("2.150001"),
        baseline_unknown=2,
        saved_usd=D("1.350000876544"),
        saved_unknown=4,
        comparable_requests=3,
        comparable_cost_usd=D("0.250000123456"),
        comparable_baseline_usd=D("1.600001"),
        comparable_saved_usd=D("1.350000876544"),
    )
    # The share saved is over the same three requests, not saved total / baseline total.
    assert totals.saved_share == D("1.350000876544") / D("1.600001")
    assert totals.saved_share != D("1.350000876544") / D("2.150001")


async def test_breakdowns(ledger: Path) -> None:
    report = await report_of(ledger)
    assert [line.key for line in report.by_day] == ["2023-11-14", "2023-11-15"]
    day1, day2 = report.by_day
    assert (day1.requests, day1.cost_usd, day1.saved_usd, day1.cost_estimated) == (
        2,
        D("0.250000123456"),
        D("1.250000876544"),
        1,
    )
    assert (day2.requests, day2.errors, day2.cost_usd, day2.cost_unknown, day2.calls) == (
        5,
        1,
        D("0.02"),
        2,
        3,
    )
    assert (day2.saved_usd, day2.saved_unknown) == (D("0.1"), 4)

    tasks = _by_key(report.by_task)
    assert set(tasks) == {"summarise", "classify", "(none)"}
    assert tasks["(none)"].cost_usd is None
    assert tasks["(none)"].cost_unknown == 2
    assert tasks["(none)"].saved_usd is None
    assert tasks["classify"].baseline_usd == D("0.1")
    assert tasks["classify"].baseline_unknown == 1

    models = _by_key(report.by_model)
    assert set(models) == {"gpt-4o -> gpt-4o-mini", "claude-x", "mystery-1"}
    assert models["gpt-4o -> gpt-4o-mini"].cost_usd == D("0.270000123456")
    assert models["mystery-1"].cost_usd is None
    assert models["mystery-1"].baseline_usd == D("0.5")

    tenants = _by_key(report.by_tenant)
    assert tenants["team-a"].requests == 3
    assert tenants["team-b"].errors == 1
    assert report.unpriced_models == (("mystery-1", 2),)
    # lines are ordered by spend, most first
    assert report.by_task[0].key == "summarise"


async def test_by_lever_counts_unknown_shares_as_unknown(ledger: Path) -> None:
    levers = _by_key((await report_of(ledger)).by_lever)
    routing = levers["routing"]
    assert routing.requests == 4
    assert routing.saved_usd == D("1.030000876544")  # the known shares
    assert routing.saved_unknown == 1  # the unpriced model's share: not dropped, not $0
    assert routing.comparable_requests == 3
    assert routing.comparable_baseline_usd == D("1.550001")
    prompt_cache = levers["prompt_cache"]
    assert (prompt_cache.requests, prompt_cache.saved_usd, prompt_cache.saved_unknown) == (
        2,
        D("0.25"),
        1,
    )
    assert prompt_cache.cost_usd == D("0.27")  # cost of the requests it touched
    assert levers["memo"].saved_usd == D("0.1")
    assert levers["memo"].calls == 0


async def test_time_window(ledger: Path) -> None:
    report = await report_of(ledger, since=DAY2)
    assert report.totals.requests == 5
    assert report.totals.cost_usd == D("0.02")
    assert {line.key for line in report.by_lever} == {"memo", "routing", "prompt_cache"}
    assert (await report_of(ledger, until=DAY2)).totals.cost_unknown == 0
    empty = await report_of(ledger, since=DAY2 + 10_000)
    assert empty.totals.requests == 0
    assert empty.totals.cost_usd is None
    assert empty.totals.saved_usd is None
    assert "No requests" in render_report(empty)


async def test_render_shows_unknown_counts_never_zero(ledger: Path) -> None:
    text = render_report(await report_of(ledger))
    assert "WARNING: 2 calls with no known cost: mystery-1 (2)" in text
    assert "cost      $0.270000 over 5 of 7 requests (2 unknown), of which 1 estimated" in text
    assert "baseline  $2.150001 over 5 of 7 requests (2 unknown)" in text
    assert "saved     $1.350001 over 3 of 7 requests (4 unknown)" in text
    assert (
        "= 84.4% of baseline, over the 3 requests where cost, baseline and saving are all known"
        in text
    )
    assert "upstream calls: 5" in text
    model_line = next(line for line in text.splitlines() if line.strip().startswith("mystery-1"))
    cells = model_line.split()
    assert cells[4] == "unknown"  # cost: unknown, never $0
    assert cells[6:9] == ["$0.500000", "+1", "unknown"]  # one baseline known, one not
    assert cells[9] == "unknown"  # saved
    routing_line = next(line for line in text.splitlines() if line.strip().startswith("routing"))
    assert "$1.030001 +1 unknown" in routing_line


async def test_render_when_everything_is_known(ledger: Path) -> None:
    text = render_report(await report_of(ledger, until=DAY2))
    assert "WARNING" not in text
    assert "+1 unknown" not in text and "unknown)" not in text
    assert "cost      $0.250000, of which 1 estimated" in text
    assert "= 83.3% of baseline, over all 2 requests" in text


async def test_report_to_json_is_exact_and_serialisable(ledger: Path) -> None:
    data = report_to_json(await report_of(ledger))
    decoded = json.loads(json.dumps(data))
    assert decoded["totals"] == {
        "key": "total",
        "requests": 7,
        "errors": 1,
        "calls": 5,
        "cost_usd": "0.270000123456",
        "cost_unknown": 2,
        "cost_estimated": 1,
        "baseline_usd": "2.150001",
        "baseline_unknown": 2,
        "saved_usd": "1.350000876544",
        "saved_unknown": 4,
        "comparable": {
            "requests": 3,
            "cost_usd": "0.250000123456",
            "baseline_usd": "1.600001",
            "saved_usd": "1.350000876544",
        },
    }
    tasks = {line["key"]: line for line in decoded["by_task"]}
    assert tasks["(none)"]["cost_usd"] is None
    assert tasks["(none)"]["saved_usd"] is None
    assert decoded["unpriced_models"] == [{"model": "mystery-1", "requests": 2}]
    assert Decimal(decoded["by_day"][0]["cost_usd"]) == D("0.250000123456")


async def test_sums_beyond_one_sqlite_integer(store: LedgerStore, db_path: Path) -> None:
    """Each row holds $9M (close to the 64-bit pico limit): over three days, and twice on
    one day (one SQLite sum would overflow), the totals are still exact."""
    big = D("9000000.000000000001")
    for day in range(3):
        await store.record(row(ts=DAY1 + day * 86_400, cost_usd=big, savings={}))
    await store.record(row(ts=DAY1 + 5, cost_usd=big, savings={}))
    report = await report_of(db_path)
    assert report.totals.cost_usd == big * 4
    assert report.by_day[0].cost_usd == big * 2
    assert _by_key(report.by_task)["summarise"].cost_usd == big * 4


async def test_missing_ledger_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.db"):
        await report_of(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


async def test_calls_without_reported_usage_are_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "no-usage.db"
    store = LedgerStore(path)
    await store.open()
    await store.record(
        row(model="gpt-4o", cost_usd=None, baseline_usd=None, price_source="no_usage")
    )
    await store.close()
    text = render_report(await report_of(path))
    assert "WARNING: 1 call with no known cost: gpt-4o [no usage reported] (1)" in text


# -- the reader interface ----------------------------------------------------------------


async def test_reader_summary_groups_and_rows(ledger: Path) -> None:
    reader = SqliteLedgerReader(ledger)
    assert isinstance(reader, LedgerReader)
    assert reader.location == str(ledger)
    groups = {g.key: g for g in await reader.summary(("task", "day"))}
    assert set(groups) == {
        ("summarise", "2023-11-14"),
        ("summarise", "2023-11-15"),
        ("classify", "2023-11-15"),
        (None, "2023-11-15"),
    }
    assert groups[("summarise", "2023-11-14")].cost_pusd == 250_000_123_456
    (total,) = await reader.summary()
    assert (total.requests, total.cost_pusd, total.cost_unknown) == (7, 270_000_123_456, 2)
    assert await reader.summary(since=DAY2 + 10_000) == []
    rows = await reader.rows(since=DAY2)
    assert [r.request_id for r in rows] == [r.request_id for r in ROWS[2:]]
    assert rows[2].savings == {"routing": None}
    with pytest.raises(ValueError, match="cannot group"):
        await reader.summary(("ts; DROP TABLE requests",))


class CannedReader:
    """A LedgerReader with no database: the report needs nothing else."""

    location = "memory://canned"

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []

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
        one = GroupTotals(
            key=(),
            requests=2,
            errors=0,
            calls=2,
            cost_pusd=10**12,
            cost_unknown=0,
            cost_estimated=0,
            baseline_pusd=4 * 10**12,
            baseline_unknown=0,
            saved_pusd=None,
            saved_unknown=2,
            comparable_requests=0,
            comparable_cost_pusd=0,
            comparable_baseline_pusd=0,
            comparable_saved_pusd=0,
        )
        out = []
        for group_by in group_bys:
            self.asked.append(tuple(group_by))
            key = tuple("x" for _ in group_by)
            out.append([dataclasses.replace(one, key=key)])
        return out

    async def rows(self, *, since: float | None = None, until: float | None = None) -> list[Any]:
        return []


async def test_report_goes_through_the_reader_interface_only() -> None:
    reader = CannedReader()
    assert isinstance(reader, LedgerReader)
    report = await build_report(reader)
    assert report.path == "memory://canned"
    assert report.totals.cost_usd == D(1)
    assert report.totals.saved_usd is None and report.totals.saved_share is None
    assert ("lever",) in reader.asked
    assert all(dim in GROUP_DIMENSIONS for asked in reader.asked for dim in asked)
    text = render_report(report)
    assert "saved     unknown (all 2 requests)" in text
    assert "of baseline" not in text
