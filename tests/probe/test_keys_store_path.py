"""A key store path that cannot be the store (a directory, a file that is not a key store)
fails loudly, at the gateway's start and in ``thrifty keys``: it used to read as "no
gateway keys", so a keyed gateway quietly fell back to loopback-only mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.config import Settings
from thrifty.errors import ConfigError
from thrifty.gateway import create_app
from thrifty.gateway.keys import ActiveKeys, read_keys
from thrifty.runtime import Thrifty


@pytest.fixture(params=["directory", "not a database"])
def bad_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "l-keys.db"
    if request.param == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not an SQLite file, but it is long enough to be read" * 4)
    return path


def test_the_gateway_refuses_to_start(bad_store: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key store") as caught:
        read_keys(bad_store)
    assert str(bad_store) in str(caught.value)
    with pytest.raises(ConfigError, match="key store"):
        ActiveKeys(bad_store)
    settings = Settings(ledger={"path": str(tmp_path / "l.db")})
    with pytest.raises(ConfigError, match="key store"):
        create_app(Thrifty(settings, environ={}))


def test_serve_exits_with_the_path_and_the_fix(bad_store: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "serve", "--ledger", str(tmp_path / "l.db")],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert str(bad_store) in err and "key store" in err


@pytest.mark.parametrize("action", [["list"], ["list", "--json"], ["revoke", "abcd1234"]])
def test_keys_commands_say_so(
    bad_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    assert main(["keys", "--ledger", str(tmp_path / "l.db"), *action]) == 2
    captured = capsys.readouterr()
    assert str(bad_store) in captured.err and captured.out == ""


def test_create_into_a_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "l-keys.db").mkdir()
    assert main(["keys", "--ledger", str(tmp_path / "l.db"), "create", "--tenant", "a"]) == 2
    captured = capsys.readouterr()
    assert str(tmp_path / "l-keys.db") in captured.err and captured.out == ""


def test_a_missing_store_is_still_no_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_keys(tmp_path / "none-keys.db") == ({}, 0)
    assert main(["keys", "--ledger", str(tmp_path / "l.db"), "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
