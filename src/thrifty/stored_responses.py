"""The Responses API's stored responses, from the library (``Thrifty.retrieve_response``,
``cancel_response``, ``delete_response``), booked as the gateway books them.

A background ``Thrifty.responses({..., "background": True})`` comes back ``queued``,
without usage: its row is unpriced.  The library keeps what the booking needs in the same
record file as the gateway (``thrifty-response-owners.db``, next to the ledger), and the
first :meth:`StoredResponses.retrieve` (or :meth:`~StoredResponses.cancel`) that returns the
response finished with usage books it once: one row ``<create's request id>.background``,
``endpoint = 'background'`` (:func:`thrifty.gateway.response_booking_rows.book_if_finished`,
the gateway's own code).  Since the file is shared, a response created by the library and
retrieved through a gateway on the same ledger (or the reverse) is booked once too.

A response polled at the provider directly (with the ``openai`` SDK) is never seen
finished here: its cost stays unknown, and ``thrifty responses pending`` lists it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from thrifty.errors import UpstreamUnavailable

if TYPE_CHECKING:
    from thrifty.gateway.response_bookings import BackgroundBookings
    from thrifty.runtime import Thrifty
    from thrifty.types import ChatRequest, ChatResponse, Stage

log = logging.getLogger("thrifty")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The provider's answer for a stored response (``body``: the ``response`` object, or
    the deletion's confirmation), the provider that answered, and, when this call booked
    the finished background response, that row's request id and priced answer
    (``booking.cost``, ``booking.baseline``)."""

    body: dict[str, Any]
    provider: str
    booked_request_id: str | None = None
    booking: ChatResponse | None = None


class StoredResponses:
    """Retrieve, cancel and delete stored responses of a started :class:`Thrifty`; the
    background booking records are opened on first use."""

    def __init__(self, thrifty: Thrifty) -> None:
        self._thrifty = thrifty
        self._bookings: BackgroundBookings | None = None
        self._ledger: Stage | None = None

    @property
    def bookings(self) -> BackgroundBookings:
        """The background responses waiting to be booked (the gateway's record file)."""
        if self._bookings is None:
            from thrifty.gateway.response_bookings import BackgroundBookings
            from thrifty.gateway.response_owners import owners_path

            self._bookings = BackgroundBookings(owners_path(self._thrifty.settings))
        return self._bookings

    def note(self, request: ChatRequest, response: ChatResponse) -> None:
        """Keep what booking ``response`` needs if it is a background response still to
        finish (a failed write is logged: that response will not be booked)."""
        if request.api != "responses" or request.body.get("background") is not True:
            return
        from thrifty.gateway.response_owners import note_background

        body = response.parsed_body() if response.stream is None else None
        found = body.get("id") if body is not None else None
        if isinstance(found, str):
            note_background(self.bookings, found, request, response)

    async def retrieve(self, response_id: str, *, provider: str | None = None) -> StoredResponse:
        """``GET /responses/{id}`` at ``provider`` (default: as the gateway chooses); books
        a background response the first time it comes back finished with usage."""
        return await self._call("GET", response_id, "", provider, book=True)

    async def cancel(self, response_id: str, *, provider: str | None = None) -> StoredResponse:
        """``POST /responses/{id}/cancel``; books the response if it had finished."""
        return await self._call("POST", response_id, "/cancel", provider, book=True)

    async def delete(self, response_id: str, *, provider: str | None = None) -> StoredResponse:
        """``DELETE /responses/{id}``; a background response not booked yet never will be
        (its record is dropped, logged)."""
        return await self._call("DELETE", response_id, "", provider, book=False)

    async def _call(
        self, method: str, response_id: str, suffix: str, named: str | None, *, book: bool
    ) -> StoredResponse:
        from thrifty.gateway.record_file import check_response_id
        from thrifty.gateway.response_booking_rows import book_if_finished
        from thrifty.gateway.response_calls import forward_side, side_upstream
        from thrifty.providers._http import error_from_status

        check_response_id(response_id)
        await self._thrifty.start()
        upstream = side_upstream(self._thrifty.providers, named)
        status, raw = await forward_side(
            upstream, method, f"/responses/{response_id}{suffix}", None
        )
        if not 200 <= status < 300:
            raise error_from_status(status, {}, raw, provider=upstream.name, api_key=None)
        try:
            body = orjson.loads(raw) if raw.strip() else {}  # a 204 has no body
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(
                f"{upstream.name} answered {method} /responses/{{id}}{suffix} with a body "
                "that is not a JSON object",
                provider=upstream.name,
            )
        if method == "DELETE" and status == 200:
            from thrifty.gateway.response_bookings import drop_deleted

            drop_deleted(self.bookings, response_id)
        booked = None
        if book and status == 200:
            booked = await book_if_finished(self.bookings, self._ledger_stage, response_id, raw)
        if booked is None:
            return StoredResponse(body, upstream.name)
        return StoredResponse(body, upstream.name, booked.served_id, booked.response)

    def _ledger_stage(self) -> Stage:
        if self._ledger is None:
            from thrifty.gateway.response_calls import booking_ledger

            self._ledger = booking_ledger(self._thrifty)
        return self._ledger

    def close(self) -> None:
        """Close the record file (logging how many background responses wait)."""
        if self._bookings is not None:
            self._bookings.close()
            self._bookings = None
        self._ledger = None
