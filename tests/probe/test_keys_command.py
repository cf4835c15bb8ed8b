"""``thrifty keys`` with careless input: ``--ledger`` / ``--keys-file`` after the action
(was "unrecognized arguments"), a huge or hostile id to revoke (its error echoed all of
it), tenants out of bounds refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main


def test_store_options_are_taken_after_the_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = str(tmp_path / "l.db")
    assert main(["keys", "create", "--tenant", "acme", "--ledger", ledger, "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert (tmp_path / "l-keys.db").is_file()
    assert main(["keys", "list", "--json", "--ledger", ledger]) == 0
    assert [k["id"] for k in json.loads(capsys.readouterr().out)] == [created["id"]]
    other = str(tmp_path / "other-keys.db")
    assert main(["keys", "create", "--tenant", "b", "--keys-file", other]) == 0
    assert (tmp_path / "other-keys.db").is_file()
    capsys.readouterr()
    assert main(["keys", "revoke", created["id"], "--ledger", ledger]) == 0
    assert main(["keys", "--ledger", ledger, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


@pytest.mark.parametrize("key_id", ["x" * 5000, "\x1b[2J" * 100, "../" * 1000])
def test_an_unknown_id_is_echoed_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_id: str
) -> None:
    ledger = str(tmp_path / "l.db")
    assert main(["keys", "--ledger", ledger, "create", "--tenant", "acme"]) == 0
    capsys.readouterr()
    assert main(["keys", "--ledger", ledger, "revoke", key_id]) == 2
    err = capsys.readouterr().err
    assert "no key" in err and len(err) < 200 and "\x1b" not in err


@pytest.mark.parametrize(
    "tenant", ["", " ", "a" * 65, "a" * 5000, "é", "a\nb", "\x1b[2J", "-a", "."]
)
def test_a_bad_tenant_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tenant: str
) -> None:
    assert main(["keys", "--ledger", str(tmp_path / "l.db"), "create", f"--tenant={tenant}"]) == 2
    err = capsys.readouterr().err
    assert "is not valid" in err and len(err) < 300 and "\x1b" not in err
    assert list(tmp_path.iterdir()) == []
