"""The ledger's SQLite schema: an append-only list of numbered migrations.

Migration *n* is ``MIGRATIONS[n - 1]``; the ``migrations`` table lists the versions
applied.  Never edit a released migration: append a new one.  Each migration runs in
its own ``BEGIN IMMEDIATE`` transaction, so it is all-or-nothing and two processes
opening the same file at once cannot both apply it.

Durability: connections use ``journal_mode=WAL`` and ``synchronous=NORMAL``.  A
transaction that has committed survives the *process* being killed (SIGKILL, crash,
``os._exit``): the WAL is in the OS page cache and is replayed on the next open.  An OS
crash or power loss may roll back the last few transactions (never corrupts the file).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from thrifty.errors import ConfigError

Migration = tuple[str, ...]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: the schema.  Money columns are integer pico-dollars (1e-12 USD); NULL = unpriced.
    (
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            ts REAL NOT NULL,
            tenant TEXT,
            task TEXT,
            dialect TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            requested_model TEXT,
            model TEXT,
            provider TEXT,
            stream INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost_pusd INTEGER,
            baseline_pusd INTEGER,
            saved_pusd INTEGER NOT NULL,
            price_source TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            status INTEGER NOT NULL,
            error TEXT,
            detail TEXT
        )
        """,
        "CREATE INDEX requests_ts ON requests (ts)",
        """
        CREATE TABLE savings (
            request_id TEXT NOT NULL,
            lever TEXT NOT NULL,
            saved_pusd INTEGER NOT NULL,
            PRIMARY KEY (request_id, lever)
        ) WITHOUT ROWID
        """,
    ),
    # 2: ledger v2.  A saving that is not known is NULL (it was stored as 0); the
    # requested alias, the billed service tier, batch and server-tool uses, the baseline's
    # token counts, an estimate flag and the failure phase get columns; requests with
    # several calls list them in `calls`; the view `billed_calls` shows every call.
    (
        """
        CREATE TABLE requests_v2 (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            ts REAL NOT NULL,
            tenant TEXT,
            task TEXT,
            dialect TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            requested_model TEXT,
            requested_alias TEXT,
            model TEXT,
            provider TEXT,
            service_tier TEXT,
            stream INTEGER NOT NULL,
            batch INTEGER NOT NULL DEFAULT 0,
            server_tools TEXT,
            calls INTEGER NOT NULL,
            calls_listed INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            baseline_input_tokens INTEGER,
            baseline_output_tokens INTEGER,
            cost_pusd INTEGER,
            baseline_pusd INTEGER,
            saved_pusd INTEGER,
            cost_estimated INTEGER NOT NULL,
            price_source TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            status INTEGER NOT NULL,
            failure TEXT,
            error TEXT,
            detail TEXT
        )
        """,
        """
        INSERT INTO requests_v2 (
            id, request_id, ts, tenant, task, dialect, endpoint, requested_model, model,
            provider, stream, calls, input_tokens, output_tokens, cache_read_tokens,
            cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens,
            baseline_input_tokens, baseline_output_tokens, cost_pusd, baseline_pusd,
            saved_pusd, cost_estimated, price_source, latency_ms, status, error, detail)
        SELECT id, request_id, ts, tenant, task, dialect, endpoint, requested_model, model,
            provider, stream, CASE WHEN price_source = 'none' THEN 0 ELSE 1 END,
            input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
            cache_write_1h_tokens, reasoning_tokens,
            CASE WHEN baseline_pusd IS NULL THEN NULL ELSE input_tokens END,
            CASE WHEN baseline_pusd IS NULL THEN NULL ELSE output_tokens END,
            cost_pusd, baseline_pusd,
            CASE WHEN cost_pusd IS NULL OR baseline_pusd IS NULL THEN NULL ELSE saved_pusd END,
            0, price_source, latency_ms, status, error, detail
        FROM requests
        """,
        "DROP TABLE requests",
        "ALTER TABLE requests_v2 RENAME TO requests",
        "CREATE INDEX requests_ts ON requests (ts)",
        """
        CREATE TABLE savings_v2 (
            request_id TEXT NOT NULL,
            lever TEXT NOT NULL,
            saved_pusd INTEGER,
            PRIMARY KEY (request_id, lever)
        ) WITHOUT ROWID
        """,
        """
        INSERT INTO savings_v2 (request_id, lever, saved_pusd)
        SELECT s.request_id, s.lever,
            CASE WHEN r.saved_pusd IS NULL THEN NULL ELSE s.saved_pusd END
        FROM savings s JOIN requests r ON r.request_id = s.request_id
        """,
        "DROP TABLE savings",
        "ALTER TABLE savings_v2 RENAME TO savings",
        """
        CREATE TABLE calls (
            request_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            lever TEXT,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            service_tier TEXT,
            batch INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            server_tools TEXT,
            cost_pusd INTEGER,
            price_source TEXT NOT NULL,
            estimated INTEGER NOT NULL,
            PRIMARY KEY (request_id, seq)
        ) WITHOUT ROWID
        """,
        # Every billed call, one row each.  A request with one call that answered it keeps
        # that call's facts in its own row (one insert on the hot path instead of two);
        # requests with more calls, or calls a lever made, list them in `calls`.
        """
        CREATE VIEW billed_calls AS
        SELECT request_id, seq, lever, model, provider, service_tier, batch, input_tokens,
            output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
            reasoning_tokens, server_tools, cost_pusd, price_source, estimated
        FROM calls
        UNION ALL
        SELECT request_id, 0, NULL, model, provider, service_tier, batch, input_tokens,
            output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
            reasoning_tokens, server_tools, cost_pusd, price_source, cost_estimated
        FROM requests WHERE calls = 1 AND calls_listed = 0
        """,
    ),
    # 3: per-row columns for what the report counted out of `detail` text: an answer cut
    # by its length limit, and the history lever's tokens saved and cache reads lost (NULL:
    # no cut).  Old rows are filled from their detail where it holds the figures (the
    # output lever's "output: truncated" mark; the history lever's "history-saved-tokens=N
    # history-cache-reads-lost=M"); a history row without them stays NULL (unknown).
    (
        """
        ALTER TABLE requests ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0
            CHECK (truncated IN (0, 1))
        """,
        """
        ALTER TABLE requests ADD COLUMN history_saved_tokens INTEGER
            CHECK (history_saved_tokens BETWEEN 0 AND 1000000000000)
        """,
        """
        ALTER TABLE requests ADD COLUMN history_cache_reads_lost INTEGER
            CHECK (history_cache_reads_lost BETWEEN 0 AND 1000000000000)
        """,
        "UPDATE requests SET truncated = 1 WHERE detail LIKE '%output: truncated%'",
        """
        UPDATE requests SET
            history_saved_tokens = max(0, min(1000000000000, CAST(substr(detail,
                instr(detail, 'history-saved-tokens=') + 21) AS INTEGER))),
            history_cache_reads_lost = CASE
                WHEN instr(detail, 'history-cache-reads-lost=') = 0 THEN NULL
                ELSE max(0, min(1000000000000, CAST(substr(detail,
                    instr(detail, 'history-cache-reads-lost=') + 25) AS INTEGER)))
            END
        WHERE instr(coalesce(detail, ''), 'history-saved-tokens=') > 0
        """,
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    """Highest migration applied to ``conn``'s database (0 for an empty database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if exists is None:
        return 0
    (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM migrations").fetchone()
    return int(version)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations ``conn`` lacks, in order; return the resulting version.

    Idempotent.  ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    if schema_version(conn) == len(migrations):  # fast path: no write lock taken
        return len(migrations)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at REAL)"
    )
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > len(migrations):
                raise ConfigError(
                    f"ledger schema version {version} is newer than this thrifty knows "
                    f"({len(migrations)}); upgrade thrifty to read it"
                )
            if version == len(migrations):
                conn.execute("COMMIT")
                return version
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO migrations (version, applied_at) VALUES (?, ?)",
                (version + 1, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def connect(
    path: str | os.PathLike[str],
    *,
    create: bool,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> sqlite3.Connection:
    """Open the ledger at ``path`` (WAL, synchronous=NORMAL, migrated, autocommit mode).

    With ``create=False`` a missing file raises :class:`ConfigError` naming the path.
    """
    file = Path(path)
    if create:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the ledger's folder for {str(file)!r}: {exc}"
            ) from exc
    elif not file.is_file():
        raise ConfigError(f"no ledger at {str(file)!r}: the file does not exist")
    try:
        conn = sqlite3.connect(file, isolation_level=None)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open ledger {str(file)!r}: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, migrations)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(f"cannot use ledger {str(file)!r}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def time_range(
    since: float | None, until: float | None, column: str = "ts"
) -> tuple[str, list[float]]:
    """A ``WHERE`` clause (``since <= ts < until``; either bound optional) and its params."""
    clauses: list[str] = []
    params: list[float] = []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(float(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(float(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
