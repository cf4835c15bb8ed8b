"""``thrifty report``: totals, unknown counts and the unpriced warning, JSON money, date
filters, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.cli import main
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.types import Usage

UNPRICED_MODEL = "mystery-model-x"


def _ts(day: str, hour: int = 12) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC).timestamp()


def _row(request_id: str, **overrides: Any) -> LedgerRow:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "ts": _ts("2026-01-10"),
        "tenant": "team-a",
        "task": "summarize",
        "dialect": "openai",
        "endpoint": "/v1/chat/completions",
        "requested_model": "gpt-4o",
        "model": "gpt-4o",
        "provider": "openai",
        "stream": False,
        "usage": Usage(input_tokens=100, output_tokens=20),
        "cost_usd": Decimal("0"),
        "baseline_usd": Decimal("0"),
        "savings": {},
        "price_source": "genai-prices",
        "latency_ms": 5.0,
        "status": 200,
    }
    fields.update(overrides)
    return LedgerRow(**fields)


ROWS = (
    # 2026-01-10: routed gpt-4o -> gpt-4o-mini, with a routing saving.
    _row(
        "r-routed",
        ts=_ts("2026-01-10"),
        model="gpt-4o-mini",
        cost_usd=Decimal("0.000123456789"),
        baseline_usd=Decimal("0.0025"),
        savings={"routing": Decimal("0.002376543211")},
        saved_usd=Decimal("0.002376543211"),
    ),
    # 2026-01-11: an Anthropic call, no lever.
    _row(
        "r-claude",
        ts=_ts("2026-01-11"),
        task="impact",
        dialect="anthropic",
        endpoint="/v1/messages",
        requested_model="claude-sonnet-4-6",
        model="claude-sonnet-4-6",
        provider="anthropic",
        cost_usd=Decimal("0.01"),
        baseline_usd=Decimal("0.01"),
        saved_usd=Decimal(0),
    ),
    # 2026-01-12: a model nobody knows the price of.
    _row(
        "r-unpriced",
        ts=_ts("2026-01-12"),
        task=None,
        requested_model=UNPRICED_MODEL,
        model=UNPRICED_MODEL,
        provider="local",
        cost_usd=None,
        baseline_usd=None,
        price_source="unpriced",
    ),
)


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()
    try:
        for row in ROWS:
            await store.record(row)
    finally:
        await store.close()
    yield path


async def _write(path: Path, rows: Sequence[LedgerRow]) -> None:
    store = LedgerStore(path)
    await store.open()
    try:
        for row in rows:
            await store.record(row)
    finally:
        await store.close()


def _report_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["report", *args, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_report_text_has_totals_and_loud_unpriced_warning(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--ledger", str(ledger)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert str(ledger) in out
    assert "requests  3" in out
    assert "unknown cost: 1" in out
    # 0.000123456789 + 0.01, priced rows only, shown to the micro-dollar; the unpriced
    # call is not hidden as $0, and the totals say how many requests they cover.
    assert "cost      $0.010123 over 2 of 3 requests (1 unknown)" in out
    assert "baseline  $0.012500 over 2 of 3 requests (1 unknown)" in out
    assert "saved     $0.002377 over 2 of 3 requests (1 unknown)" in out
    # 0.002376543211 / 0.0125 over the same two requests
    assert "= 19.0% of baseline, over the 2 requests where" in out
    warning = next(line for line in out.splitlines() if line.startswith("WARNING"))
    assert UNPRICED_MODEL in warning
    assert "no known cost" in warning
    assert "UNKNOWN" in out
    assert "routing" in out
    assert "gpt-4o -> gpt-4o-mini" in out


def test_report_json_is_exact(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _report_json(capsys, "--ledger", str(ledger))
    totals = data["totals"]
    assert totals["requests"] == 3
    assert totals["cost_unknown"] == 1
    assert totals["baseline_unknown"] == 1
    assert totals["saved_unknown"] == 1
    assert totals["cost_usd"] == "0.010123456789"
    assert totals["baseline_usd"] == "0.0125"
    assert totals["saved_usd"] == "0.002376543211"
    assert totals["comparable"] == {
        "requests": 2,
        "cost_usd": "0.010123456789",
        "baseline_usd": "0.0125",
        "saved_usd": "0.002376543211",
    }
    assert data["unpriced_models"] == [{"model": UNPRICED_MODEL, "requests": 1}]
    assert [line["key"] for line in data["by_day"]] == ["2026-01-10", "2026-01-11", "2026-01-12"]
    by_lever = {line["key"]: line for line in data["by_lever"]}
    assert by_lever["routing"]["saved_usd"] == "0.002376543211"
    by_model = {line["key"]: line for line in data["by_model"]}
    assert by_model["gpt-4o -> gpt-4o-mini"]["cost_usd"] == "0.000123456789"
    assert by_model[UNPRICED_MODEL]["cost_usd"] is None  # unknown, never "0"
    assert by_model[UNPRICED_MODEL]["saved_usd"] is None
    assert by_model[UNPRICED_MODEL]["cost_unknown"] == 1
    # Every amount round-trips through Decimal exactly.
    for key in ("cost_usd", "baseline_usd", "saved_usd"):
        assert str(Decimal(totals[key])) == totals[key]


def test_report_since_until_filter(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    only_claude = _report_json(
        capsys, "--ledger", str(ledger), "--since", "2026-01-11", "--until", "2026-01-12"
    )
    assert only_claude["totals"]["requests"] == 1
    assert only_claude["totals"]["cost_usd"] == "0.01"
    assert only_claude["unpriced_models"] == []
    assert [line["key"] for line in only_claude["by_day"]] == ["2026-01-11"]
    assert only_claude["since"] == "2026-01-11"  # as given, not a unix float

    from_11 = _report_json(capsys, "--ledger", str(ledger), "--since", "2026-01-11")
    assert from_11["totals"]["requests"] == 2
    assert from_11["totals"]["cost_unknown"] == 1

    until_11 = _report_json(capsys, "--ledger", str(ledger), "--until", "2026-01-11")
    assert until_11["totals"]["requests"] == 1
    assert until_11["totals"]["cost_usd"] == "0.000123456789"

    # The text report of a filtered period without unpriced calls has no warning.
    assert main(["report", "--ledger", str(ledger), "--until", "2026-01-12"]) == 0
    out = capsys.readouterr().out
    assert "WARNING" not in out
    assert "requests  2" in out


def test_report_empty_period(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--ledger", str(ledger), "--since", "2030-01-01"]) == 0
    assert "No requests recorded" in capsys.readouterr().out
    data = _report_json(capsys, "--ledger", str(ledger), "--since", "2030-01-01")
    assert data["totals"]["requests"] == 0
    assert data["totals"]["cost_usd"] is None
    assert data["totals"]["saved_usd"] is None


def test_report_missing_ledger_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent" / "nothing.db"
    assert main(["report", "--ledger", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("thrifty: error:")
    assert str(missing) in captured.err
    assert "Traceback" not in captured.err
    assert not missing.exists()  # reporting never creates a ledger


@pytest.mark.parametrize("flag", ["--since", "--until"])
@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "01/02/2026"])
def test_report_bad_date_is_a_clear_error(
    ledger: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["report", "--ledger", str(ledger), flag, value]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert flag in captured.err
    assert value in captured.err
    assert "YYYY-MM-DD" in captured.err or "2026-01-31" in captured.err
    assert "Traceback" not in captured.err


def test_report_ledger_from_config_file(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "thrifty-report.toml"
    config.write_text(f"[ledger]\npath = {json.dumps(str(ledger))}\n", encoding="utf-8")
    assert main(["--config", str(config), "report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["requests"] == 3


def test_report_counts_estimates_calls_and_unknown_lever_shares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from thrifty.ledger.row import CallRecord
    from thrifty.types import Call, Cost

    path = tmp_path / "v2.db"
    call = CallRecord(
        Call(model="gpt-4o-mini", provider="openai", usage=Usage(10, 2), usage_estimated=True),
        Cost(usd=Decimal("0.001"), source="genai-prices", estimated=True),
    )
    rows = (
        _row(
            "r-cut-stream",
            model="gpt-4o-mini",
            stream=True,
            calls=(call,),
            cost_usd=Decimal("0.001"),
            cost_estimated=True,
            baseline_usd=Decimal("0.004"),
            savings={"routing": Decimal("0.003")},
            saved_usd=Decimal("0.003"),
            status=499,
            failure="client_left",
        ),
        _row(
            "r-unknown-share",
            model="gpt-4o-mini",
            calls=(call, call),
            cost_usd=Decimal("0.002"),
            baseline_usd=Decimal("0.01"),
            savings={"routing": None},
            saved_usd=None,
        ),
    )
    asyncio.run(_write(path, rows))

    assert main(["report", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert "cost      $0.003000, of which 1 estimated" in out
    assert "upstream calls: 3" in out
    assert "saved     $0.003000 over 1 of 2 requests (1 unknown)" in out
    assert "= 75.0% of baseline, over the 1 request where" in out
    routing = next(line for line in out.splitlines() if line.strip().startswith("routing"))
    assert "$0.003000 +1 unknown" in routing

    data = _report_json(capsys, "--ledger", str(path))
    assert data["totals"]["cost_estimated"] == 1
    assert data["totals"]["calls"] == 3
    (lever,) = data["by_lever"]
    assert (lever["key"], lever["saved_usd"], lever["saved_unknown"]) == ("routing", "0.003", 1)
