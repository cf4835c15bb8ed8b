"""``thrifty responses pending`` as a careless or hostile user runs it: ``--ledger`` after
the action (was "unrecognized arguments"), a ``--limit`` too large for SQLite (was a
traceback), a file that is not a record file (the command used to add its tables, switch it
to WAL and chmod it: a listing must not change what it reads), a record with a control code
in a name (never printed)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.cli.test_responses_command import NOW, pending
from thrifty.cli import main
from thrifty.gateway.response_bookings import BackgroundBookings, Pending


def record(response_id: str, tenant: str = "team-a") -> Pending:
    return pending(response_id, NOW, tenant)


def records_file(ledger: Path) -> Path:
    return ledger.with_name("ledger-response-owners.db")


def test_ledger_is_taken_after_the_action_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    bookings = BackgroundBookings(records_file(ledger))
    bookings.note(record("resp_1"))
    bookings.close()
    assert main(["responses", "pending", "--ledger", str(ledger), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 1
    assert main(["responses", "--ledger", str(ledger), "pending", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 1


@pytest.mark.parametrize("limit", ["0", "-1", "200001", "99999999999999999999"])
def test_a_limit_out_of_range_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    ledger = tmp_path / "ledger.db"
    bookings = BackgroundBookings(records_file(ledger))
    bookings.note(record("resp_1"))
    bookings.close()
    assert main(["responses", "pending", "--ledger", str(ledger), "--limit", limit]) == 2
    assert "--limit must be 1 to 200000" in capsys.readouterr().err


def test_a_foreign_sqlite_file_is_read_not_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    path = records_file(ledger)
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (a)")
        db.commit()
    path.chmod(0o644)
    before = path.read_bytes()
    assert main(["responses", "pending", "--ledger", str(ledger)]) == 0
    assert capsys.readouterr().out.startswith("0 background response(s) not booked yet")
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no -wal / -shm left


@pytest.mark.parametrize("content", [b"", b"hello\n", b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_damaged_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    ledger = tmp_path / "ledger.db"
    records_file(ledger).write_bytes(content)
    code = main(["responses", "pending", "--ledger", str(ledger)])
    out, err = capsys.readouterr()
    if content:
        assert code == 2 and "cannot read" in err
    else:  # an empty file is an empty database: nothing noted yet
        assert code == 0 and out.startswith("0 background response(s)")
    assert records_file(ledger).read_bytes() == content


def test_a_tampered_name_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    bookings = BackgroundBookings(records_file(ledger))
    bookings.note(record("resp_ok"))
    assert not bookings.note(record("resp_esc", tenant="\x1b[2Jowned"))  # refused when kept
    bookings.note(record("resp_bad"))
    bookings.close()
    with closing(sqlite3.connect(records_file(ledger))) as db:
        db.execute(
            "UPDATE background_booking SET facts = ? WHERE response_id = 'resp_bad'",
            (record("resp_bad").encode().replace(b"team-a", b"\\u001b[2Jowned"),),
        )
        db.commit()
    assert main(["responses", "pending", "--ledger", str(ledger)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "resp_ok" in out and "resp_bad" not in out
    assert out.startswith("2 background response(s) not booked yet")
    assert out.splitlines()[-1] == "  ... and 1 more (unreadable records, not listed)"
