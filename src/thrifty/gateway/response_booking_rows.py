"""Writing the ledger row of a finished background Responses call: the booking half of
:mod:`thrifty.gateway.response_bookings` (whose records say what is waiting), shared by
the gateway's side routes and the library (:mod:`thrifty.stored_responses`).

:func:`book_if_finished` takes the provider's answer to a retrieve or cancel, and books the
response once if it is finished with usage and still waits: the record is claimed first
(one SQLite update), the row written through the ledger stage, the claim released if the
row cannot be written.  Nothing here raises to the caller: the app gets the provider's
answer whatever the booking does.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from thrifty.errors import ThriftyError
from thrifty.gateway.response_bookings import FINAL, BackgroundBookings, Pending
from thrifty.ledger.row import BACKGROUND_ENDPOINT, BACKGROUND_SUFFIX
from thrifty.providers.finish import responses_cut
from thrifty.providers.usage import responses_server_tools, service_tier, usage_from_responses
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

log = logging.getLogger("thrifty.gateway")


def finished_usage(body: Mapping[str, object]) -> bool:
    """Whether a retrieved response is over and carries its usage: what can be booked."""
    return body.get("status") in FINAL and isinstance(body.get("usage"), Mapping)


def booking_of(pending: Pending, body: Mapping[str, object]) -> tuple[ChatRequest, ChatResponse]:
    """The ledger's view of a finished background response: the create's request and an
    answer with the usage (and billing facts) the finished response reports."""
    request = ChatRequest(
        dialect="openai",
        body={"model": pending.requested_model, "background": True},
        model=pending.model,
        requested_model=pending.requested_model,
        api="responses",
        task=pending.task,
        tenant=pending.tenant,
        endpoint=BACKGROUND_ENDPOINT,
        request_id=pending.request_id + BACKGROUND_SUFFIX,
        received_at=pending.created_at,
        requested_alias=pending.requested_alias,
    )
    usage = body.get("usage")
    assert isinstance(usage, Mapping)
    named = body.get("model")
    response = ChatResponse(
        dialect="openai",
        model=named if isinstance(named, str) and named else pending.model,
        provider=pending.provider,
        usage=usage_from_responses(usage),
        served=request,
        service_tier=service_tier(body.get("service_tier")),
        server_tools=responses_server_tools(body.get("output")),
        truncated=responses_cut(body),
    )
    if pending.model_lever is not None:
        detail = f"{pending.model_lever}: {pending.requested_model} -> {pending.model}"
        response.steps.append(Step(pending.model_lever, detail))
    return request, response


@dataclass(frozen=True, slots=True)
class Booked:
    """A booked background response: its row's request id and the priced answer."""

    served_id: str
    response: ChatResponse


async def book(ledger: Stage, pending: Pending, body: Mapping[str, object]) -> Booked:
    """Write the row of ``pending``'s finished response through the ``ledger`` stage."""
    request, response = booking_of(pending, body)

    async def answered(_: ChatRequest) -> ChatResponse:
        return response

    handler: Handler = ledger(answered)
    await handler(request)
    return Booked(request.request_id, response)


def already_booked(exc: BaseException) -> bool:
    """Whether a ledger write failed because the row exists (booked by another process)."""
    cause = exc.__cause__
    return (
        isinstance(exc, ThriftyError)
        and isinstance(cause, sqlite3.IntegrityError)
        and "request_id" in str(cause)
    )


async def book_if_finished(
    bookings: BackgroundBookings, ledger: Callable[[], Stage], response_id: str, answer: bytes
) -> Booked | None:
    """Book the background response ``response_id`` if ``answer`` (the provider's body of
    a retrieve or cancel, HTTP 200) returns it finished with usage and it still waits to be
    booked: the row written through ``ledger()``, or None.  The body is parsed only when the
    id waits.  Whatever fails here is logged, never raised: the caller still gets the
    provider's answer; a row that could not be written leaves the record pending."""
    try:
        if not bookings.waiting(response_id):
            return None
        body = orjson.loads(answer)
        if not isinstance(body, dict) or not finished_usage(body):
            return None
        pending = bookings.claim(response_id)
    except orjson.JSONDecodeError:
        return None
    except (OSError, sqlite3.Error) as exc:
        log.warning("background response %s: booking record unreadable (%s)", response_id, exc)
        return None
    if pending is None:
        return None  # not a background response noted here, or booked already
    try:
        booked = await book(ledger(), pending, body)
    except ThriftyError as exc:
        if already_booked(exc):
            return None
        log.error("background response %s: could not be booked (%s)", response_id, exc)
        try:
            bookings.release(response_id)  # the next retrieve tries again
        except (OSError, sqlite3.Error):
            log.error("background response %s: will not be booked", response_id)
        return None
    log.info("booked background response %s as %s", response_id, booked.served_id)
    return booked
