"""``thrifty keys`` as a real process: create prints the key once, list never shows it,
revoke by id; the store holds hashes only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import clean_env
from thrifty.gateway.keys import hash_key


def keys(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "keys", "--ledger", str(tmp_path / "t.db"), *args],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_create_list_revoke(tmp_path: Path) -> None:
    created = keys(tmp_path, "create", "--tenant", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("thr-") and len(key) > 40
    assert "acme" in created.stderr and "only now" in created.stderr

    store = tmp_path / "t-keys.db"
    raw = store.read_bytes()
    assert key.encode() not in raw
    assert hash_key(key).encode() in raw
    if os.name == "posix":
        assert stat.S_IMODE(store.stat().st_mode) == 0o600

    listed = keys(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "acme" in listed.stdout and key not in listed.stdout
    entries = json.loads(keys(tmp_path, "list", "--json").stdout)
    assert [(e["tenant"], e["revoked_at"]) for e in entries] == [("acme", None)]
    assert key.startswith(entries[0]["hint"]) and len(entries[0]["hint"]) < 12

    revoked = keys(tmp_path, "revoke", entries[0]["id"])
    assert revoked.returncode == 0, revoked.stderr
    entries = json.loads(keys(tmp_path, "list", "--json").stdout)
    assert entries[0]["revoked_at"] is not None


def test_create_json_and_bad_input(tmp_path: Path) -> None:
    made = json.loads(keys(tmp_path, "create", "--tenant", "team.a", "--json").stdout)
    assert made["tenant"] == "team.a" and made["key"].startswith("thr-")
    bad = keys(tmp_path, "create", "--tenant", "no spaces\nor newlines")
    assert bad.returncode == 2
    assert "thrifty: error: tenant name" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = keys(tmp_path, "revoke", "deadbeef")
    assert missing.returncode == 2
    assert "no key 'deadbeef'" in missing.stderr


def test_list_without_a_store(tmp_path: Path) -> None:
    listed = keys(tmp_path, "list")
    assert listed.returncode == 0
    assert "no gateway keys" in listed.stderr
    assert not (tmp_path / "t-keys.db").exists()


def test_config_after_the_subcommand_is_read(tmp_path: Path) -> None:
    """`--config` is accepted after `keys create` / `keys list` too (their help once showed
    the words "parents=[config_after]" instead of taking the option)."""
    config = tmp_path / "cfg.toml"
    config.write_text(f'[gateway]\nkeys_path = "{tmp_path / "custom-keys.db"}"\n')
    created = keys(tmp_path, "create", "--config", str(config), "--tenant", "acme")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "custom-keys.db").exists()
    assert not (tmp_path / "t-keys.db").exists()
    listed = keys(tmp_path, "list", "--config", str(config), "--json")
    assert [e["tenant"] for e in json.loads(listed.stdout)] == ["acme"]
    helped = keys(tmp_path, "create", "--help")
    assert "parents=" not in helped.stdout and "--config" in helped.stdout
