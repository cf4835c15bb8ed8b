"""Booking a background Responses API call once its work is done.

``POST /v1/responses`` with ``"background": true`` comes back ``queued``, without usage:
its own ledger row is unpriced (``price_source = 'no_usage'``), because nothing is known
yet.  The usage appears in the finished response, which the app fetches later
(``GET /v1/responses/{id}``, or ``POST /v1/responses/{id}/cancel`` of one that had
finished).  So the gateway keeps, for every background response it created, what the
booking will need (:class:`Pending`: the create's request id, tenant, task, models,
provider), and the first retrieve or cancel that returns it finished with usage books it:

* one ledger row per response, id ``<create's request id>.background``, endpoint
  ``background``, the tenant and task of the create, priced like any Responses call
  (cached input, reasoning, web searches, the service tier reported, its truncation);
* never twice: the record goes from ``pending`` to ``booked`` in one SQLite ``UPDATE ...
  WHERE state = 'pending'`` before the row is written, so of two concurrent retrieves
  (or two gateway processes sharing the file) exactly one books; and the ledger refuses a
  second row with the same id anyway.  A row that cannot be written puts the record back
  to ``pending`` (the next retrieve tries again).

What is not booked: a background response that is never retrieved once finished (its cost
stays unknown, as the create's unpriced row says), one that ended without usage (a
cancelled response with ``usage: null``), one deleted before it was booked (its record is
dropped on the delete, logged: :func:`drop_deleted`), and one whose record was evicted
(older than 30 days, or beyond 200,000 records).  :meth:`BackgroundBookings.pending` counts what
waits; the gateway logs it at shutdown.  The records share the owner store's file
(``thrifty-response-owners.db``), in a table of their own.  Writing the row is
:mod:`thrifty.gateway.response_booking_rows`'s.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from thrifty.gateway.record_file import RESPONSE_ID, RecordFile
from thrifty.ledger.accounting import MODEL_LEVERS
from thrifty.types import ChatRequest, ChatResponse, Lever

log = logging.getLogger("thrifty.gateway")

# The statuses a background response ends in; usage comes with the first three (and
# with a cancelled one when the provider reports what it had done).
FINAL = frozenset({"completed", "incomplete", "failed", "cancelled"})
MAX_FIELD = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS background_booking (
    response_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'booked')),
    facts BLOB NOT NULL,
    created_at REAL NOT NULL,
    booked_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS background_booking_age ON background_booking (created_at);
"""


_REQUIRED = ("request_id", "requested_model", "model", "provider")
_OPTIONAL = ("tenant", "task", "requested_alias")


@dataclass(frozen=True, slots=True)
class Pending:
    """What the booking of one background response needs from the call that created it."""

    response_id: str
    request_id: str
    tenant: str | None
    task: str | None
    requested_model: str
    requested_alias: str | None
    model: str  # the model the create was sent to (after routing)
    provider: str
    created_at: float
    model_lever: Lever | None = None  # the lever that changed the model, if one did

    def encode(self) -> bytes:
        fields = {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "task": self.task,
            "requested_model": self.requested_model,
            "requested_alias": self.requested_alias,
            "model": self.model,
            "provider": self.provider,
            "model_lever": self.model_lever,
        }
        return orjson.dumps(fields)

    def in_bounds(self) -> bool:
        """Whether every field fits what is stored: the id a response id, each name at most
        :data:`MAX_FIELD` printable characters (a listing never prints a control code)."""
        names = (
            self.request_id,
            self.tenant,
            self.task,
            self.requested_model,
            self.requested_alias,
            self.model,
            self.provider,
        )
        return bool(RESPONSE_ID.match(self.response_id)) and all(
            len(name or "") <= MAX_FIELD and (name or "").isprintable() for name in names
        )

    @classmethod
    def decode(cls, response_id: str, raw: bytes, created_at: float) -> Pending:
        """The record stored as ``raw``; :class:`UnreadableRecord` when it is not one (a
        damaged or tampered file)."""
        try:
            fields = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UnreadableRecord(response_id) from None
        if not isinstance(fields, dict):
            raise UnreadableRecord(response_id)
        names: dict[str, Any] = {k: fields.get(k) for k in _REQUIRED + _OPTIONAL}
        if not all(isinstance(names[k], str) and names[k] for k in _REQUIRED) or not all(
            names[k] is None or isinstance(names[k], str) for k in _OPTIONAL
        ):
            raise UnreadableRecord(response_id)
        lever = fields.get("model_lever")
        found = cls(
            response_id=response_id,
            created_at=created_at,
            model_lever=lever if lever in MODEL_LEVERS else None,
            **names,
        )
        if not found.in_bounds():
            raise UnreadableRecord(response_id)
        return found


class UnreadableRecord(ValueError):
    """A stored booking record that does not decode: it can never be booked."""

    def __init__(self, response_id: str) -> None:
        super().__init__(f"background response {response_id[:128]}: unreadable booking record")


def pending_of(response_id: str, request: ChatRequest, response: ChatResponse) -> Pending | None:
    """The booking record of a background create (``request``) answered ``response``, or
    None when it is not a background response still to finish.  Whether it can be kept
    (:meth:`Pending.in_bounds`) is :meth:`BackgroundBookings.note`'s to say."""
    if request.body.get("background") is not True or response.usage_reported:
        return None  # foreground, or already finished and booked with its create
    if response.stream is not None:
        return None  # a background stream: its own stream's row books it
    body = response.parsed_body()
    if body is not None and body.get("status") in FINAL:
        return None
    served = response.served or request
    lever = next((s.lever for s in response.steps if s.lever in MODEL_LEVERS), None)
    return Pending(
        response_id=response_id,
        request_id=request.request_id,
        tenant=request.tenant,
        task=request.task,
        requested_model=request.requested_model,
        requested_alias=request.requested_alias,
        model=served.model,
        provider=response.provider,
        created_at=request.received_at,
        model_lever=lever,
    )


class BackgroundBookings(RecordFile):
    """The records, in ``path`` (the owner store's file), opened on first use.  SQLite
    failures raise ``sqlite3.Error``/``OSError`` to the caller, who logs them."""

    table = "background_booking"
    schema = _SCHEMA

    noted = 0  # background responses this process noted for booking
    evicted_pending = 0  # records dropped before their response was booked

    def note(self, pending: Pending) -> bool:
        """Keep ``pending`` until its response is booked; True when it was added (a
        response id already noted keeps its first record; a record out of bounds is not
        kept)."""
        if not pending.in_bounds():
            log.warning(
                "request %s: background response not noted for booking (a name is over %d "
                "characters or not printable): its cost will not be booked",
                pending.request_id[:64],
                MAX_FIELD,
            )
            return False
        db = self._db()
        added = db.execute(
            "INSERT OR IGNORE INTO background_booking VALUES (?, 'pending', ?, ?, NULL)",
            (pending.response_id, pending.encode(), pending.created_at),
        ).rowcount
        if not added:
            return False
        self._rows += 1
        if self._rows > self.max_rows:
            waiting = self.pending()
            self._rows = self._evict(db)
            lost = waiting - self.pending()
            if lost:
                self.evicted_pending += lost
                log.warning("%d background response record(s) evicted before being booked", lost)
        self.noted += 1
        if str(self.noted).strip("0") == "1":  # the 1st, 10th, 100th...
            log.info(
                "noted %d background response(s) so far, booked when retrieved finished",
                self.noted,
            )
        return True

    def waiting(self, response_id: str) -> bool:
        """Whether ``response_id`` is a background response still to be booked (one
        primary-key read: most retrieves need nothing more)."""
        found = (
            self._db()
            .execute(
                "SELECT 1 FROM background_booking WHERE response_id = ? AND state = 'pending'",
                (response_id,),
            )
            .fetchone()
        )
        return found is not None

    def claim(self, response_id: str) -> Pending | None:
        """Take the right to book ``response_id``: its record if this caller moved it from
        ``pending`` to ``booked``, None if there is no such record or another did."""
        db = self._db()
        now = self._clock()
        moved = db.execute(
            "UPDATE background_booking SET state = 'booked', booked_at = ? "
            "WHERE response_id = ? AND state = 'pending' AND created_at >= ?",
            (now, response_id, now - self.ttl_s),
        ).rowcount
        if not moved:
            return None
        facts, created_at = db.execute(
            "SELECT facts, created_at FROM background_booking WHERE response_id = ?",
            (response_id,),
        ).fetchone()
        try:
            return Pending.decode(response_id, facts, created_at)
        except UnreadableRecord as exc:
            log.error("%s: it will not be booked", exc)  # settled: claimed, never retried
            return None

    def waiting_list(self, limit: int) -> list[Pending]:
        """The oldest ``limit`` background responses still to be booked."""
        rows = (
            self._db()
            .execute(
                "SELECT response_id, facts, created_at FROM background_booking "
                "WHERE state = 'pending' ORDER BY created_at, response_id LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        found: list[Pending] = []
        for response_id, facts, at in rows:
            try:
                found.append(Pending.decode(response_id, facts, at))
            except UnreadableRecord as exc:
                log.warning("%s: not listed", exc)
        return found

    def release(self, response_id: str) -> None:
        """Put a claimed record back to ``pending`` (its row could not be written)."""
        self._db().execute(
            "UPDATE background_booking SET state = 'pending', booked_at = NULL "
            "WHERE response_id = ?",
            (response_id,),
        )

    def drop(self, response_id: str) -> bool:
        """Settle the record of ``response_id``, deleted at the provider: a response still
        pending is never booked (nothing can retrieve it finished any more), so its record
        is removed, and logged with the reason.  True when a pending record was dropped."""
        dropped = (
            self._db()
            .execute(
                "DELETE FROM background_booking WHERE response_id = ? AND state = 'pending'",
                (response_id,),
            )
            .rowcount
        )
        if not dropped:
            return False
        self._rows -= dropped
        log.info(
            "background response %s deleted before it was booked: its cost will not be "
            "booked (its create's ledger row stays unpriced)",
            response_id[:128],
        )
        return True

    def pending(self) -> int:
        """Background responses created through thrifty (its gateway or its library) and
        not booked yet."""
        (count,) = (
            self._db()
            .execute("SELECT count(*) FROM background_booking WHERE state = 'pending'")
            .fetchone()
        )
        return int(count)

    def close(self) -> None:
        """Close the file, saying how many background responses wait to be booked."""
        if self._conn is None:
            return
        try:
            waiting = self.pending()
        except sqlite3.Error:
            waiting = 0
        if waiting:
            log.info(
                "%d background response(s) created through thrifty (gateway or library) are "
                "not booked yet (not retrieved since they finished)",
                waiting,
            )
        self._close()


def drop_deleted(bookings: BackgroundBookings, response_id: str) -> None:
    """After the provider deleted ``response_id``: settle its record if it was pending
    (:meth:`BackgroundBookings.drop`).  A record file that cannot be written is logged;
    the delete itself has happened and its answer stands."""
    try:
        bookings.drop(response_id)
    except (sqlite3.Error, OSError) as exc:
        log.error(
            "background response %s was deleted, but its booking record could not be "
            "settled (%s): `thrifty responses pending` may still list it",
            response_id[:128],
            exc,
        )
