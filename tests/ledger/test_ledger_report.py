from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.errors import ConfigError
from thrifty.ledger import (
    LedgerStore,
    ReportLine,
    build_report,
    render_report,
    report_to_json,
)

from .conftest import make_row

DAY1 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
DAY2 = DAY1 + 86_400  # 2023-11-15


@pytest.fixture
async def ledger(store: LedgerStore, db_path: Path) -> Path:
    rows = [
        # day 1: routed summarise calls for team-a
        make_row(
            ts=DAY1,
            cost_usd=Decimal("0.000000123456"),
            baseline_usd=Decimal("0.000001"),
            savings={"routing": Decimal("0.000000876544")},
        ),
        make_row(
            ts=DAY1 + 60,
            cost_usd=Decimal("0.25"),
            baseline_usd=Decimal("1.5"),
            savings={"routing": Decimal("1"), "prompt_cache": Decimal("0.25")},
        ),
        # day 2: a cache hit, an error, two unpriced calls
        make_row(
            ts=DAY2,
            task="classify",
            tenant="team-b",
            requested_model="claude-x",
            model="claude-x",
            cost_usd=Decimal(0),
            baseline_usd=Decimal("0.1"),
            savings={"memo": Decimal("0.1")},
        ),
        make_row(
            ts=DAY2 + 1,
            task="classify",
            tenant="team-b",
            requested_model="claude-x",
            model="claude-x",
            cost_usd=Decimal(0),
            baseline_usd=None,
            savings={},
            status=502,
            error="upstream_unavailable: boom",
            price_source="none",
        ),
        make_row(
            ts=DAY2 + 2,
            task=None,
            tenant=None,
            requested_model="mystery-1",
            model="mystery-1",
            cost_usd=None,
            baseline_usd=None,
            savings={},
            price_source="unpriced",
        ),
        make_row(
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
    ]
    for row in rows:
        await store.record(row)
    return db_path


def _by_key(lines: tuple[ReportLine, ...]) -> dict[str, ReportLine]:
    return {line.key: line for line in lines}


def test_totals_are_exact(ledger: Path) -> None:
    totals = build_report(ledger).totals
    assert totals == ReportLine(
        key="total",
        requests=6,
        errors=1,
        cost_usd=Decimal("0.250000123456"),
        baseline_usd=Decimal("1.600001"),
        saved_usd=Decimal("1.350000876544"),
        unpriced_requests=2,
    )


def test_breakdowns(ledger: Path) -> None:
    report = build_report(ledger)
    assert [line.key for line in report.by_day] == ["2023-11-14", "2023-11-15"]
    day1, day2 = report.by_day
    assert (day1.requests, day1.cost_usd, day1.saved_usd) == (
        2,
        Decimal("0.250000123456"),
        Decimal("1.250000876544"),
    )
    assert (day2.requests, day2.errors, day2.cost_usd, day2.unpriced_requests) == (
        4,
        1,
        Decimal(0),
        2,
    )

    tasks = _by_key(report.by_task)
    assert set(tasks) == {"summarise", "classify", "(none)"}
    assert tasks["(none)"].cost_usd is None
    assert tasks["(none)"].unpriced_requests == 2
    assert tasks["classify"].baseline_usd == Decimal("0.1")

    models = _by_key(report.by_model)
    assert set(models) == {"gpt-4o -> gpt-4o-mini", "claude-x", "mystery-1"}
    assert models["gpt-4o -> gpt-4o-mini"].cost_usd == Decimal("0.250000123456")
    assert models["mystery-1"].cost_usd is None

    levers = _by_key(report.by_lever)
    assert levers["routing"].requests == 2
    assert levers["routing"].saved_usd == Decimal("1.000000876544")
    assert levers["prompt_cache"].saved_usd == Decimal("0.25")
    assert levers["prompt_cache"].cost_usd == Decimal("0.25")  # cost of the requests it touched
    assert levers["memo"].saved_usd == Decimal("0.1")

    tenants = _by_key(report.by_tenant)
    assert tenants["team-a"].requests == 2
    assert tenants["team-b"].errors == 1
    assert report.unpriced_models == (("mystery-1", 2),)
    # lines are ordered by spend, most first
    assert report.by_task[0].key == "summarise"


def test_time_window(ledger: Path) -> None:
    report = build_report(ledger, since=DAY2)
    assert report.totals.requests == 4
    assert report.totals.cost_usd == Decimal(0)
    assert [line.key for line in report.by_lever] == ["memo"]
    assert build_report(ledger, until=DAY2).totals.unpriced_requests == 0
    empty = build_report(ledger, since=DAY2 + 10_000)
    assert empty.totals.requests == 0
    assert empty.totals.cost_usd is None
    assert "No requests" in render_report(empty)


def test_render_flags_unpriced_loudly(ledger: Path) -> None:
    text = render_report(build_report(ledger))
    assert "WARNING: 2 calls with no known cost: mystery-1 (2)" in text
    assert "$0.250000 + unknown" in text  # total cost: a lower bound, said so
    model_line = next(line for line in text.splitlines() if line.strip().startswith("mystery-1"))
    assert "unknown" in model_line
    assert "$0.000000" not in model_line.split()[3:4]
    assert "1.350001" in text  # saved, rounded for reading


def test_render_without_unpriced_has_no_warning(ledger: Path) -> None:
    text = render_report(build_report(ledger, until=DAY2))
    assert "WARNING" not in text
    assert "unknown" not in text


def test_report_to_json_is_exact_and_serialisable(ledger: Path) -> None:
    data = report_to_json(build_report(ledger))
    decoded = json.loads(json.dumps(data))
    assert decoded["totals"] == {
        "key": "total",
        "requests": 6,
        "errors": 1,
        "cost_usd": "0.250000123456",
        "baseline_usd": "1.600001",
        "saved_usd": "1.350000876544",
        "unpriced_requests": 2,
    }
    tasks = {line["key"]: line for line in decoded["by_task"]}
    assert tasks["(none)"]["cost_usd"] is None
    assert decoded["unpriced_models"] == [{"model": "mystery-1", "requests": 2}]
    assert Decimal(decoded["by_day"][0]["cost_usd"]) == Decimal("0.250000123456")


async def test_sums_beyond_one_sqlite_integer(store: LedgerStore, db_path: Path) -> None:
    """Each row holds $9M (close to the 64-bit pico limit); the total is still exact."""
    big = Decimal("9000000.000000000001")
    for day in range(3):
        await store.record(make_row(ts=DAY1 + day * 86_400, cost_usd=big, savings={}))
    assert build_report(db_path).totals.cost_usd == big * 3


def test_missing_ledger_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.db"):
        build_report(tmp_path / "missing.db")


async def test_calls_without_reported_usage_are_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "no-usage.db"
    store = LedgerStore(path)
    await store.open()
    await store.record(
        make_row(model="gpt-4o", cost_usd=None, baseline_usd=None, price_source="no_usage")
    )
    await store.close()
    text = render_report(build_report(path))
    assert "WARNING: 1 call with no known cost: gpt-4o [no usage reported] (1)" in text
