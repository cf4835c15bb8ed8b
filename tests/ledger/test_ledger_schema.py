from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.errors import ConfigError
from thrifty.ledger import LedgerStore, read_rows
from thrifty.ledger.schema import MIGRATIONS, connect, migrate, schema_version

from .conftest import make_row


def _is_file(path: Path) -> bool:
    return path.is_file()


def _versions(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [v for (v,) in conn.execute("SELECT version FROM migrations ORDER BY version")]
    finally:
        conn.close()


async def test_open_creates_parents_wal_and_schema(db_path: Path) -> None:
    store = LedgerStore(db_path)
    await store.open()
    await store.close()
    assert _is_file(db_path)
    conn = sqlite3.connect(db_path)
    try:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    finally:
        conn.close()
    assert mode == "wal"
    assert _versions(db_path) == list(range(1, len(MIGRATIONS) + 1))


async def test_reopening_is_idempotent(db_path: Path) -> None:
    row = make_row()
    for _ in range(3):
        store = LedgerStore(db_path)
        await store.open()
        if not store.rows():
            await store.record(row)
        await store.close()
    assert _versions(db_path) == list(range(1, len(MIGRATIONS) + 1))
    assert read_rows(db_path) == [row]


async def test_a_database_at_migration_n_upgrades(db_path: Path) -> None:
    store = LedgerStore(db_path)
    await store.open()
    row = make_row()
    await store.record(row)
    await store.close()

    extra = (*MIGRATIONS, ("ALTER TABLE requests ADD COLUMN region TEXT",))
    conn = connect(db_path, create=False, migrations=extra)
    try:
        assert schema_version(conn) == len(extra)
        columns = [name for (_, name, *_rest) in conn.execute("PRAGMA table_info(requests)")]
        assert "region" in columns
        assert migrate(conn, extra) == len(extra)  # again: nothing to do
        ids = [r for (r,) in conn.execute("SELECT request_id FROM requests")]
    finally:
        conn.close()
    assert _versions(db_path) == list(range(1, len(extra) + 1))
    assert ids == [row.request_id]  # the data survived the upgrade


def test_failed_migration_leaves_the_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    broken = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(ConfigError):
        connect(path, create=True, migrations=broken)
    conn = sqlite3.connect(path)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "extra" not in tables
    assert _versions(path) == list(range(1, len(MIGRATIONS) + 1))


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    connect(path, create=True).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO migrations (version, applied_at) VALUES (99, 0)")
    conn.close()
    with pytest.raises(ConfigError, match="newer"):
        read_rows(path)


def test_a_version_1_ledger_upgrades_with_unknown_savings_made_null(tmp_path: Path) -> None:
    """Ledger v1 stored an unknown saving as 0; v2 makes it NULL and keeps the rest."""
    path = tmp_path / "v1.db"
    conn = connect(path, create=True, migrations=MIGRATIONS[:1])
    insert = (
        "INSERT INTO requests (request_id, ts, tenant, task, dialect, endpoint,"
        " requested_model, model, provider, stream, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens,"
        " cost_pusd, baseline_pusd, saved_pusd, price_source, latency_ms, status)"
        " VALUES (?, 1.0, NULL, NULL, 'openai', 'library', ?, ?, 'openai', 0, 100, 10,"
        " 0, 0, 0, 0, ?, ?, ?, ?, 1.0, 200)"
    )
    conn.execute(insert, ("known", "gpt-4o", "gpt-4o-mini", 5, 20, 15, "genai-prices"))
    conn.execute(insert, ("unknown", "mystery", "gpt-4o-mini", 5, None, 0, "genai-prices"))
    conn.execute("INSERT INTO savings VALUES ('known', 'routing', 15)")
    conn.execute("INSERT INTO savings VALUES ('unknown', 'routing', 0)")
    conn.close()

    rows = {row.request_id: row for row in read_rows(path)}  # applies migration 2
    assert _versions(path) == list(range(1, len(MIGRATIONS) + 1))
    known, unknown = rows["known"], rows["unknown"]
    assert known.saved_usd == Decimal("15e-12")
    assert known.savings == {"routing": Decimal("15e-12")}
    assert known.baseline_usage is not None and known.baseline_usage.input_tokens == 100
    assert unknown.saved_usd is None and unknown.savings == {"routing": None}
    assert unknown.cost_usd == Decimal("5e-12") and unknown.baseline_usd is None
    assert (known.failure, known.requested_alias, known.cost_estimated) == (None, None, False)
