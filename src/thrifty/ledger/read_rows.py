"""Reading a ledger file's rows whole (its savings and calls joined in), for reports and
exports that want :class:`~thrifty.ledger.row.LedgerRow` objects rather than sums."""

from __future__ import annotations

import os
from decimal import Decimal

from thrifty.ledger.money import optional_pico_to_usd
from thrifty.ledger.row import (
    SELECT_CALLS,
    SELECT_ROWS,
    CallRecord,
    LedgerRow,
    call_from_db,
    from_db,
)
from thrifty.ledger.schema import connect, time_range

__all__ = ["read_rows"]


def read_rows(
    path: str | os.PathLike[str], *, since: float | None = None, until: float | None = None
) -> list[LedgerRow]:
    """Rows of the ledger at ``path`` with ``since <= ts < until``, oldest first.
    A missing file raises :class:`~thrifty.errors.ConfigError`."""
    conn = connect(path, create=False)
    try:
        where, params = time_range(since, until)
        joined_where, _ = time_range(since, until, column="r.ts")
        savings: dict[str, dict[str, Decimal | None]] = {}
        saving_sql = (
            "SELECT s.request_id, s.lever, s.saved_pusd FROM savings s"
            f" JOIN requests r ON r.request_id = s.request_id{joined_where}"
        )
        for request_id, lever, pico in conn.execute(saving_sql, params):
            savings.setdefault(request_id, {})[lever] = optional_pico_to_usd(pico)
        calls: dict[str, list[CallRecord]] = {}
        call_sql = (
            SELECT_CALLS.replace("FROM calls", "FROM calls c")
            .replace("SELECT ", "SELECT c.", 1)
            .replace(", ", ", c.")
            + f" JOIN requests r ON r.request_id = c.request_id{joined_where} ORDER BY c.seq"
        )
        for record in conn.execute(call_sql, params):
            calls.setdefault(record[0], []).append(call_from_db(record))
        records = conn.execute(f"{SELECT_ROWS}{where} ORDER BY ts, id", params).fetchall()
        return [
            from_db(record, savings.get(record[0], {}), calls.get(record[0], ()))
            for record in records
        ]
    finally:
        conn.close()
