"""Who owns a stored Responses API response: response id -> tenant.

The gateway shares one provider account across its tenants, so a response id is all it
takes to read, delete or cancel a stored response at the provider, or to continue its
conversation (``previous_response_id``).  The gateway therefore notes the tenant of every
stored response that passes through it (``POST /v1/responses`` without ``store: false``,
background ones too; a stream's id is read from its ``response.created`` event) and checks
it before forwarding a side route or a ``previous_response_id``:

* an id recorded under another tenant is answered exactly as an unknown id (never saying
  that it exists);
* an id with no record (made before thrifty, or at the provider directly) is allowed when
  the gateway has no keys (one user on loopback), refused when it has keys;
* when the store cannot be read, the check fails closed (503).

The records live in SQLite next to the ledger (``thrifty.db`` ->
``thrifty-response-owners.db``, mode 0600), at most :data:`MAX_ROWS` rows (the oldest are
evicted first), each kept :data:`TTL_S` (30 days, OpenAI's retention of stored responses).
Each check is one primary-key read and each record one small insert on the event loop; a
request without ``previous_response_id`` or ``conversation`` never touches the store.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

from thrifty.config import Settings
from thrifty.errors import ThriftyError
from thrifty.gateway.record_file import RESPONSE_ID, RecordFile
from thrifty.gateway.response_bookings import BackgroundBookings, pending_of
from thrifty.types import JSON, ChatRequest, ChatResponse, MalformedEvent, StreamEvent

log = logging.getLogger("thrifty.gateway")

MAX_TENANT_CHARS = 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS response_owner (
    response_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS response_owner_age ON response_owner (created_at);
"""


class OwnerStoreUnavailable(ThriftyError):
    """The owner records cannot be read or written: the checks fail closed."""

    status = 503
    code = "owner_store_unavailable"
    openai_type = "server_error"
    anthropic_type = "api_error"


def owners_path(settings: Settings) -> Path:
    """Next to the ledger: ``thrifty.db`` -> ``thrifty-response-owners.db``."""
    return settings.ledger.beside("response-owners")


class ResponseOwners(RecordFile):
    """The records, in one SQLite file opened on first use (a failed open is retried on
    the next call).  Every failure of SQLite is an :class:`OwnerStoreUnavailable`."""

    table = "response_owner"
    schema = _SCHEMA

    @functools.cached_property
    def bookings(self) -> BackgroundBookings:
        """Background responses waiting to be booked, in the same file
        (:mod:`thrifty.gateway.response_bookings`)."""
        return BackgroundBookings(self.path, ttl_s=self.ttl_s, clock=self._clock)

    def _db(self) -> sqlite3.Connection:
        try:
            return super()._db()
        except (OSError, sqlite3.Error) as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> OwnerStoreUnavailable:
        log.error("the response owner store %s is unavailable: %s", self.path, exc)
        return OwnerStoreUnavailable(
            "the gateway cannot check who owns this response right now; try again later"
        )

    @property
    def rows(self) -> int:
        """How many records the file holds (as far as this process knows)."""
        return self._rows

    def record(self, response_id: str, tenant: str | None) -> bool:
        """Note ``tenant`` as the owner of ``response_id``; a first owner is never replaced.
        An id or tenant out of bounds is not recorded.  True when a row was added."""
        if not RESPONSE_ID.match(response_id) or len(tenant or "") > MAX_TENANT_CHARS:
            return False
        db = self._db()
        try:
            added = db.execute(
                "INSERT OR IGNORE INTO response_owner VALUES (?, ?, ?)",
                (response_id, tenant or "", self._clock()),
            ).rowcount
            self._rows += added
            if self._rows > self.max_rows:
                self._rows = self._evict(db)
                log.info("response owner store: evicted down to %d records", self._rows)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        return added > 0

    def owner_of(self, response_id: str) -> str | None:
        """The owner's tenant ("" for requests booked under no tenant), or None when the
        id has no live record."""
        db = self._db()
        try:
            row = db.execute(
                "SELECT tenant, created_at FROM response_owner WHERE response_id = ?",
                (response_id,),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        if row is None or row[1] < self._clock() - self.ttl_s:
            return None
        tenant: str = row[0]
        return tenant

    def forget(self, response_id: str) -> None:
        """Drop a record (its response was deleted at the provider)."""
        try:
            self._rows -= (
                self._db()
                .execute("DELETE FROM response_owner WHERE response_id = ?", (response_id,))
                .rowcount
            )
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def may_use(self, response_id: str, tenant: str | None, *, keys_on: bool) -> bool:
        """Whether ``tenant`` may reach ``response_id``: its own record, or no record on a
        gateway without keys.  Raises :class:`OwnerStoreUnavailable` (fail closed)."""
        owner = self.owner_of(response_id)
        if owner is None:
            return not keys_on
        return owner == (tenant or "")

    def close(self) -> None:
        self.bookings.close()
        self._close()


def _shown(response_id: str) -> str:
    return response_id if len(response_id) <= 64 else response_id[:64] + "..."


def unknown_response_body(response_id: str) -> JSON:
    """OpenAI's answer (HTTP 404) for a response id it does not hold."""
    message = f"Response with id '{_shown(response_id)}' not found."
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


class UnknownContinuation(ThriftyError):
    """A ``previous_response_id`` (or ``conversation``) the tenant may not continue,
    answered in the very words OpenAI uses for an id it does not hold."""

    status = 400
    code = "upstream_rejected"  # the header an upstream's own refusal carries
    openai_type = "invalid_request_error"

    def __init__(self, param: str, found_id: str) -> None:
        if param == "previous_response_id":
            message = f"Previous response with id '{_shown(found_id)}' not found."
            code: str | None = "previous_response_not_found"
        else:
            message = f"Conversation with id '{_shown(found_id)}' not found."
            code = None
            self.status = 404
        super().__init__(message)
        self.upstream_dialect = "openai"
        self.upstream_error = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


def check_continuation(
    owners: ResponseOwners, body: Mapping[str, object], tenant: str | None, *, keys_on: bool
) -> None:
    """Refuse a Responses request that continues a response or conversation this tenant
    may not use (:meth:`ResponseOwners.may_use`).  No store read without either field."""
    previous = body.get("previous_response_id")
    conversation = body.get("conversation")
    if isinstance(conversation, Mapping):
        conversation = conversation.get("id")
    for param, found in (("previous_response_id", previous), ("conversation", conversation)):
        if isinstance(found, str) and found and not owners.may_use(found, tenant, keys_on=keys_on):
            raise UnknownContinuation(param, found)


def stored(body: Mapping[str, object]) -> bool:
    """Whether the provider keeps the response a request makes (``store`` defaults on)."""
    return body.get("store") is not False


def response_id_of(event: StreamEvent) -> str | None:
    """The response id a stream event carries (``response.created`` and the other events
    that hold the response object), or None."""
    name = event.event
    if name is not None and name.endswith(".delta"):
        return None
    try:
        data = event.data
    except MalformedEvent:
        return None
    if data is None or not str(data.get("type", name)).startswith("response."):
        return None
    response = data.get("response")
    found = response.get("id") if isinstance(response, Mapping) else None
    return found if isinstance(found, str) else None


async def recording_owner(
    stream: AsyncIterator[Sequence[StreamEvent]], note: Callable[[str], None]
) -> AsyncIterator[Sequence[StreamEvent]]:
    """``stream`` unchanged; the first response id seen is passed to ``note`` before its
    batch goes on (so the app never holds an id the gateway has not recorded)."""
    seen = False
    try:
        async for batch in stream:
            if not seen:
                for event in batch:
                    found = response_id_of(event)
                    if found is not None:
                        seen = True
                        note(found)
                        break
            yield batch
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()


def note_owner(owners: ResponseOwners, request: ChatRequest, response: ChatResponse) -> None:
    """Record the tenant of the stored response ``response`` answers ``request`` with: now
    for a whole answer, for a stream when its first event with the id passes.  A failed
    write is logged, never the app's problem (the answer is paid for): under gateway keys
    its id then stays unreachable through the gateway."""
    if request.api != "responses" or not stored(request.body):
        return

    def note(response_id: str) -> None:
        try:
            owners.record(response_id, request.tenant)
        except OwnerStoreUnavailable:
            log.warning("request %s: response owner not recorded", request.request_id)

    if response.stream is not None:
        response.stream = recording_owner(response.stream, note)
        return
    body = response.parsed_body()
    found = body.get("id") if body is not None else None
    if isinstance(found, str):
        note(found)
        note_background(owners.bookings, found, request, response)


def note_background(
    bookings: BackgroundBookings, response_id: str, request: ChatRequest, response: ChatResponse
) -> None:
    """Keep what booking a background response will need once it is retrieved finished
    (a streamed one is booked by its own stream's row).  A failed write is logged: that
    response will not be booked."""
    pending = pending_of(response_id, request, response)
    if pending is None or not RESPONSE_ID.match(response_id):
        return
    try:
        bookings.note(pending)
    except (OSError, sqlite3.Error) as exc:
        log.warning(
            "request %s: background response not noted for booking (%s): its cost will not "
            "be booked",
            request.request_id,
            exc,
        )
