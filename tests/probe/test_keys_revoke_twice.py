"""Revoking a revoked key says it was revoked already (it printed "revoked key" again),
exits 0 (the state asked for holds) and keeps the first revocation's date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main


def test_revoking_twice_says_already_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = str(tmp_path / "l.db")
    assert main(["keys", "--ledger", ledger, "create", "--tenant", "acme", "--json"]) == 0
    key_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["keys", "--ledger", ledger, "revoke", key_id]) == 0
    first = capsys.readouterr().err
    assert first.startswith(f"revoked key {key_id}") and "already" not in first
    assert main(["keys", "--ledger", ledger, "list", "--json"]) == 0
    revoked_at = json.loads(capsys.readouterr().out)[0]["revoked_at"]
    # Again: success (the key is revoked, as asked), said to be a no-op, date unchanged.
    assert main(["keys", "--ledger", ledger, "revoke", key_id]) == 0
    second = capsys.readouterr().err
    assert "was already revoked" in second and "nothing changed" in second
    assert not second.startswith("revoked key")
    assert main(["keys", "--ledger", ledger, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] == revoked_at
