"""Shadow samples: what the served model and the strong model answered to the same request,
and whether the answers agreed.  A protocol (:class:`ShadowSamples`) and its SQLite
implementation, a table beside the ledger (``thrifty-shadow.db`` by default), written and
read as :mod:`thrifty.store` does (inline on the loop, a worker thread on a lock).

Every text field is cut to a bound (a sample's size never depends on what a client sends);
money is integer pico-dollars, ``None`` when unknown.  Prompts and answers are kept so that
samples can train the learned router (``thrifty shadow export``); the ledger keeps none.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from typing import Protocol, runtime_checkable

from thrifty.store.sqlite_base import _SqliteBacked

__all__ = [
    "MAX_NAME",
    "MAX_TEXT",
    "PairSummary",
    "ShadowSample",
    "ShadowSamples",
    "SqliteShadowSamples",
]

MAX_TEXT = 8000  # prompt and answers
MAX_NAME = 256  # task, tenant, models, comparator
MAX_ERROR = 500
MAX_LISTED = 100_000  # samples one read returns at most


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


@dataclass(frozen=True, slots=True)
class ShadowSample:
    """One shadowed request.  ``agreed`` is ``None`` when the answers could not be judged
    (the shadow call failed, an answer was not plain text, a judge gave no verdict)."""

    ts: float
    task: str | None
    tenant: str | None
    request_id: str
    served_model: str
    shadow_model: str
    comparator: str
    agreed: bool | None
    prompt: str
    served_answer: str | None
    shadow_answer: str | None
    served_cost_pusd: int | None
    shadow_cost_pusd: int | None  # the strong model's call
    error: str | None = None
    judge_cost_pusd: int | None = None  # the judge's call (judge comparator only)

    def bounded(self) -> ShadowSample:
        return ShadowSample(
            self.ts,
            _cut(self.task, MAX_NAME),
            _cut(self.tenant, MAX_NAME),
            self.request_id[:MAX_NAME],
            self.served_model[:MAX_NAME],
            self.shadow_model[:MAX_NAME],
            self.comparator[:MAX_NAME],
            self.agreed,
            self.prompt[:MAX_TEXT],
            _cut(self.served_answer, MAX_TEXT),
            _cut(self.shadow_answer, MAX_TEXT),
            self.served_cost_pusd,
            self.shadow_cost_pusd,
            _cut(self.error, MAX_ERROR),
            self.judge_cost_pusd,
        )


@dataclass(frozen=True, slots=True)
class PairSummary:
    """The samples of one task and (served model, shadow model) pair.  Costs sum the
    samples where they are known (``*_unknown`` counts the others); the judge's are apart
    from the strong model's, so the two models' costs compare like for like."""

    task: str | None
    served_model: str
    shadow_model: str
    samples: int
    agreed: int
    disagreed: int
    unjudged: int
    served_cost_pusd: int
    served_cost_unknown: int
    shadow_cost_pusd: int
    shadow_cost_unknown: int
    judge_cost_pusd: int


@runtime_checkable
class ShadowSamples(Protocol):
    """Where shadow samples are kept.  Time bounds select ``since <= ts < until``."""

    async def add(self, sample: ShadowSample) -> None: ...

    async def summary(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[PairSummary]: ...

    async def samples(
        self,
        *,
        task: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = MAX_LISTED,
    ) -> list[ShadowSample]:
        """Oldest first, at most ``limit`` (and :data:`MAX_LISTED`)."""
        ...

    async def close(self) -> None: ...


_COLUMNS = tuple(f.name for f in fields(ShadowSample))


def _window(since: float | None, until: float | None) -> tuple[str, list[float]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if until is not None:
        clauses.append("ts < ?")
        params.append(until)
    return " AND ".join(clauses) or "1", params


class SqliteShadowSamples(_SqliteBacked):
    """:class:`ShadowSamples` in table ``table`` of the SQLite file ``path``."""

    def __init__(self, path: str | os.PathLike[str], *, table: str = "shadow_samples") -> None:
        super().__init__(path, table, time.time)

    def _schema(self) -> tuple[str, ...]:
        t = self._table
        return (
            f"""CREATE TABLE {t} (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL, task TEXT, tenant TEXT, request_id TEXT NOT NULL,
                served_model TEXT NOT NULL, shadow_model TEXT NOT NULL,
                comparator TEXT NOT NULL, agreed INTEGER, prompt TEXT NOT NULL,
                served_answer TEXT, shadow_answer TEXT,
                served_cost_pusd INTEGER, shadow_cost_pusd INTEGER, error TEXT,
                judge_cost_pusd INTEGER
            )""",
            f"CREATE INDEX {t}_ts ON {t} (ts)",
            f"""CREATE TABLE {t}_meta (
                id INTEGER PRIMARY KEY CHECK (id = 0),
                version INTEGER NOT NULL
            )""",
            f"INSERT INTO {t}_meta (id, version) VALUES (0, {self._VERSION})",
        )

    async def add(self, sample: ShadowSample) -> None:
        values = astuple(sample.bounded())
        names = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        statement = f"INSERT INTO {self._table} ({names}) VALUES ({marks})"

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(statement, values)

        await self._run(lambda conn: self._write(conn, body))

    async def summary(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[PairSummary]:
        where, params = _window(since, until)
        statement = (
            "SELECT task, served_model, shadow_model, COUNT(*),"
            " SUM(agreed = 1), SUM(agreed = 0), SUM(agreed IS NULL),"
            " COALESCE(SUM(served_cost_pusd), 0), SUM(served_cost_pusd IS NULL),"
            " COALESCE(SUM(shadow_cost_pusd), 0), SUM(shadow_cost_pusd IS NULL),"
            " COALESCE(SUM(judge_cost_pusd), 0)"
            f" FROM {self._table} WHERE {where}"
            " GROUP BY task, served_model, shadow_model ORDER BY task, served_model"
        )

        def read(conn: sqlite3.Connection) -> list[PairSummary]:
            rows = conn.execute(statement, params).fetchall()
            return [PairSummary(*row) for row in rows]

        return await self._in_worker(read)

    async def samples(
        self,
        *,
        task: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = MAX_LISTED,
    ) -> list[ShadowSample]:
        where, params = _window(since, until)
        values: list[object] = list(params)
        if task is not None:
            where += " AND task = ?"
            values.append(task)
        values.append(max(0, min(limit, MAX_LISTED)))
        statement = (
            f"SELECT {', '.join(_COLUMNS)} FROM {self._table} WHERE {where} ORDER BY id LIMIT ?"
        )

        def read(conn: sqlite3.Connection) -> list[ShadowSample]:
            rows = conn.execute(statement, values).fetchall()
            return [_sample(row) for row in rows]

        return await self._in_worker(read)


def _sample(row: Sequence[object]) -> ShadowSample:
    values = list(row)
    agreed_at = _COLUMNS.index("agreed")
    agreed = values[agreed_at]
    values[agreed_at] = None if agreed is None else bool(agreed)
    return ShadowSample(*values)  # type: ignore[arg-type]
