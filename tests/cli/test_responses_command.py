"""``thrifty responses pending``: the background responses not booked yet, oldest first,
read from the record file next to the ledger (never created by the command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.gateway.response_bookings import BackgroundBookings, Pending

NOW = 1_790_000_000.0


def pending(response_id: str, at: float, tenant: str | None = "team-a") -> Pending:
    return Pending(
        response_id=response_id,
        request_id="r-" + response_id,
        tenant=tenant,
        task="reports",
        requested_model="gpt-4o-mini",
        requested_alias=None,
        model="gpt-4o-mini",
        provider="openai",
        created_at=at,
    )


def records(ledger: Path) -> None:
    bookings = BackgroundBookings(ledger.with_name("ledger-response-owners.db"), clock=lambda: NOW)
    bookings.note(pending("resp_new", NOW - 10))
    bookings.note(pending("resp_old", NOW - 60, tenant=None))
    bookings.note(pending("resp_done", NOW - 90))
    assert bookings.claim("resp_done") is not None  # booked: not listed
    bookings.close()


def test_lists_what_waits_oldest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.db"
    records(ledger)
    assert main(["responses", "--ledger", str(ledger), "pending", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["pending"] == 2
    assert [r["response_id"] for r in shown["responses"]] == ["resp_old", "resp_new"]
    assert shown["responses"][0]["tenant"] is None
    assert shown["responses"][1]["request_id"] == "r-resp_new"
    assert main(["responses", "--ledger", str(ledger), "pending", "--limit", "1"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("2 background response(s) not booked yet")
    assert text[1].split()[:5] == ["resp_old", "2026-09-21T14:12:20+00:00", "tenant", "-", "task"]
    assert text[2] == "  ... and 1 more (--limit)"


def test_without_a_record_file_nothing_waits_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    assert main(["responses", "--ledger", str(ledger), "pending"]) == 0
    assert capsys.readouterr().out.startswith("0 background response(s) not booked yet")
    assert list(tmp_path.iterdir()) == []
    assert main(["responses", "--ledger", str(ledger), "pending", "--limit", "0"]) == 2
    assert "--limit must be 1 to 200000" in capsys.readouterr().err


def test_an_unreadable_record_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.with_name("ledger-response-owners.db").write_bytes(b"not a database" * 100)
    assert main(["responses", "--ledger", str(ledger), "pending"]) == 2
    assert "cannot read" in capsys.readouterr().err
