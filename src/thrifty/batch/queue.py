"""The durable batch queue: submissions, their items and the provider jobs, in SQLite.

WAL with ``synchronous=NORMAL``: a committed transaction survives the process being
killed.  Every transition is one transaction, so a restart finds each item and job in the
last state it reached:

* an item is ``queued`` (waiting for a job), ``sent`` (in job ``job_id``), or final:
  ``succeeded``, ``failed``, ``cancelled``, ``expired``; its ledger row is written once it
  is final (``booked`` then set; the ledger refuses a second row with its request id);
* a job goes ``queued`` -> ``uploaded`` (OpenAI: input file uploaded) -> ``creating``
  (the create call may have reached the provider: a restart looks for the job there
  before creating it again) -> ``in_progress`` -> ``ended`` (the provider finished) ->
  ``collected`` (every result line stored on its item, in one transaction).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.batch.schema import (
    FINAL,
    FINISH,
    FOLLOW,
    INSERT_ITEM,
    REQUEUE,
    SCHEMA,
    SET_LEADERS,
)

MAX_ERROR = 500  # characters of an error kept on an item or job


@dataclass(frozen=True, slots=True)
class ItemRow:
    id: int
    submission_id: str
    seq: int
    custom_id: str
    provider: str
    dialect: str
    model: str
    body: bytes
    size: int
    state: str
    source: str | None
    job_id: str | None
    attempts: int
    result_status: int | None
    result: bytes | None
    error: str | None
    booked: bool
    leader: int | None
    tenant: str | None
    task: str | None
    created_at: float

    @property
    def upstream_id(self) -> str:
        """The custom id thrifty sends to the provider (unique in the queue)."""
        return f"t{self.id}"


ITEM_COLUMNS = (
    "i.id, i.submission_id, i.seq, i.custom_id, i.provider, i.dialect, i.model, i.body, "
    "i.size, i.state, i.source, i.job_id, i.attempts, i.result_status, i.result, i.error, "
    "i.booked, i.leader, s.tenant, s.task, s.created_at"
)
ITEM_FROM = " FROM items i JOIN submissions s ON s.id = i.submission_id"


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    provider: str
    dialect: str
    model: str
    requests: int
    state: str
    input_file_id: str | None
    remote_id: str | None
    remote_status: str | None
    output_refs: str | None
    creating_at: float | None
    error: str | None


JOB_COLUMNS = (
    "id, provider, dialect, model, requests, state, input_file_id, remote_id, remote_status, "
    "output_refs, creating_at, error"
)


@dataclass(frozen=True, slots=True)
class NewItem:
    seq: int
    custom_id: str
    provider: str
    dialect: str
    model: str
    body: bytes
    size: int
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A final (or retried) outcome for one item, written by :meth:`BatchQueue.settle`."""

    item_id: int
    state: str  # a FINAL state, or "queued" to send it again
    status: int | None = None
    result: bytes | None = None
    error: str | None = None
    source: str | None = None


class BatchQueue:
    """The queue's SQLite file (see the module docstring).  Synchronous and small-step:
    each call is one short transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def open(self) -> BatchQueue:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(SCHEMA)
        self._conn = conn
        os.chmod(self.path, 0o600)  # request bodies and answers are the app's data
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("BatchQueue is not open")
        return self._conn

    def _write(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run ``statements`` in one transaction (a run of the same SQL in one call)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, run in itertools.groupby(statements, key=lambda statement: statement[0]):
                conn.executemany(sql, [params for _, params in run])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- submissions ---------------------------------------------------------------------

    def add_submission(
        self, submission_id: str, items: Sequence[NewItem], *, tenant: str | None, task: str | None
    ) -> None:
        """Store a submission and its items (``queued``; an item identical to an earlier
        one of the same submission follows it), in one transaction."""
        rows = [
            (submission_id, i.seq, i.custom_id, i.provider, i.dialect, i.model, i.body, i.size,
             i.dedupe_key)
            for i in items
        ]  # fmt: skip
        self._write(
            [
                (
                    "INSERT INTO submissions (id, created_at, tenant, task, state)"
                    " VALUES (?, ?, ?, ?, 'open')",
                    (submission_id, time.time(), tenant, task),
                ),
                *((INSERT_ITEM, row) for row in rows),
                (SET_LEADERS, (submission_id,)),
            ]
        )

    def submission(self, submission_id: str) -> tuple[str, float] | None:
        row = self.conn.execute(
            "SELECT state, created_at FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def counts(self, submission_id: str) -> dict[str, int]:
        """Items per state (and ``booked``)."""
        rows = self.conn.execute(
            "SELECT state, COUNT(*), SUM(booked) FROM items WHERE submission_id = ? GROUP BY state",
            (submission_id,),
        ).fetchall()
        counts = {state: n for state, n, _ in rows}
        counts["booked"] = sum(b or 0 for _, _, b in rows)
        return counts

    def set_submission_state(self, submission_id: str, state: str) -> None:
        self._write([("UPDATE submissions SET state = ? WHERE id = ?", (state, submission_id))])

    def cancelled_submissions(self) -> set[str]:
        rows = self.conn.execute("SELECT id FROM submissions WHERE state = 'cancelled'")
        return {r[0] for r in rows}

    def cancel_queued(self, submission_id: str) -> None:
        """Mark the submission cancelled and its items not yet sent ``cancelled``."""
        self._write(
            [
                ("UPDATE submissions SET state = 'cancelled' WHERE id = ?", (submission_id,)),
                (
                    "UPDATE items SET state = 'cancelled', error = 'cancelled before it was sent'"
                    " WHERE submission_id = ? AND state = 'queued'",
                    (submission_id,),
                ),
            ]
        )

    def open_submissions(self) -> list[str]:
        """Submissions not finished (or finished and not yet announced)."""
        rows = self.conn.execute("SELECT id FROM submissions WHERE notified = 0").fetchall()
        return [r[0] for r in rows]

    def mark_notified(self, submission_id: str) -> None:
        self._write([("UPDATE submissions SET notified = 1 WHERE id = ?", (submission_id,))])

    def notified(self, submission_id: str) -> bool:
        row = self.conn.execute(
            "SELECT notified FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        return bool(row and row[0])

    # -- items ---------------------------------------------------------------------------

    def items(self, where: str, params: Sequence[Any] = (), order: str = "i.id") -> list[ItemRow]:
        sql = f"SELECT {ITEM_COLUMNS}{ITEM_FROM} WHERE {where} ORDER BY {order}"
        return [_item(row) for row in self.conn.execute(sql, params)]

    def results(self, submission_id: str) -> list[ItemRow]:
        """Every item of a submission, in input order."""
        return self.items("i.submission_id = ?", (submission_id,), order="i.seq")

    def settle(self, outcomes: Sequence[Outcome], *, job_id: str | None = None) -> None:
        """Write outcomes (and, with ``job_id``, mark that job collected) in one
        transaction; followers of a final leader take its outcome."""
        requeued: list[tuple[str, Sequence[Any]]] = []
        final: list[tuple[str, Sequence[Any]]] = []
        followers: list[tuple[str, Sequence[Any]]] = []
        for o in outcomes:
            error = None if o.error is None else o.error[:MAX_ERROR]
            if o.state == "queued":
                requeued.append((REQUEUE, (error, o.item_id)))
                continue
            final.append((FINISH, (o.state, o.status, o.result, error, o.source, o.item_id)))
            source = "duplicate" if o.state == "succeeded" else o.source
            followers.append((FOLLOW, (o.state, o.status, o.result, error, source, o.item_id)))
        statements = [*requeued, *final, *followers]
        if job_id is not None:
            statements.append(
                (
                    "UPDATE jobs SET state = 'collected', updated_at = ? WHERE id = ?",
                    (time.time(), job_id),
                )
            )
        self._write(statements)

    def to_book(self, limit: int = 1000) -> list[ItemRow]:
        final = ", ".join(f"'{s}'" for s in FINAL)
        return self.items(f"i.state IN ({final}) AND i.booked = 0", order=f"i.id LIMIT {limit}")

    def mark_booked(self, item_ids: Sequence[int]) -> None:
        self._write([("UPDATE items SET booked = 1 WHERE id = ?", (i,)) for i in item_ids])

    # -- jobs ----------------------------------------------------------------------------

    def ready_groups(self) -> list[tuple[str, str, str]]:
        """(provider, dialect, model) of queued items that no other item answers."""
        rows = self.conn.execute(
            "SELECT DISTINCT i.provider, i.dialect, i.model FROM items i"
            " JOIN submissions s ON s.id = i.submission_id"
            " WHERE i.state = 'queued' AND i.leader IS NULL AND s.state = 'open'"
        ).fetchall()
        return [(p, d, m) for p, d, m in rows]

    def queued(self, provider: str, model: str) -> list[ItemRow]:
        return self.items(
            "i.state = 'queued' AND i.leader IS NULL AND s.state = 'open'"
            " AND i.provider = ? AND i.model = ?",
            (provider, model),
        )

    def add_job(self, job: JobRow, item_ids: Sequence[int]) -> None:
        """Create a job and move its items to ``sent`` (one more attempt each)."""
        statements: list[tuple[str, Sequence[Any]]] = [
            (
                "INSERT INTO jobs (id, provider, dialect, model, requests, state, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (job.id, job.provider, job.dialect, job.model, len(item_ids), time.time()),
            )
        ]
        statements.extend(
            (
                "UPDATE items SET state = 'sent', job_id = ?, attempts = attempts + 1"
                " WHERE id = ? AND state = 'queued'",
                (job.id, i),
            )
            for i in item_ids
        )
        self._write(statements)

    def jobs(self, *states: str) -> list[JobRow]:
        marks = ", ".join("?" * len(states))
        rows = self.conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY rowid", states
        ).fetchall()
        return [JobRow(*row) for row in rows]

    def job(self, job_id: str) -> JobRow | None:
        row = self.conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return None if row is None else JobRow(*row)

    def update_job(self, job_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        if isinstance(fields.get("error"), str):
            fields["error"] = fields["error"][:MAX_ERROR]
        names = ", ".join(f"{k} = ?" for k in fields)
        self._write([(f"UPDATE jobs SET {names} WHERE id = ?", (*fields.values(), job_id))])

    def job_items(self, job_id: str) -> list[ItemRow]:
        return self.items("i.job_id = ? AND i.state = 'sent'", (job_id,))

    def claimed_remote_ids(self) -> set[str]:
        rows = self.conn.execute("SELECT remote_id FROM jobs WHERE remote_id IS NOT NULL")
        return {r[0] for r in rows}

    def jobs_of(self, submission_id: str) -> list[JobRow]:
        rows = self.conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT DISTINCT job_id FROM items"
            " WHERE submission_id = ? AND job_id IS NOT NULL)",
            (submission_id,),
        ).fetchall()
        return [JobRow(*row) for row in rows]


def _item(row: tuple[Any, ...]) -> ItemRow:
    values = list(row)
    values[16] = bool(values[16])
    return ItemRow(*values)
