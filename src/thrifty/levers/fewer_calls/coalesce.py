"""In-flight coalescing: identical requests that arrive while the first is still running
share its one upstream call.

Identical means the same flight key: the same JSON body (key order aside; so the same
messages, parameters, stream flag and stream options), model, dialect, API operation,
tenant, task (a task can route or cap differently) and forwarded headers.  The body is
compared as it is, not in the cache key's canonical form: a byte-for-byte duplicate is
the case that happens (retries, the same code path serving many users), and serialising
the body costs a few microseconds where the canonical form costs tens.  Requests of two
tenants never share a call.

* The call runs in a task of its own (a *flight*), not in the first request's task: a
  request whose client leaves (the gateway cancels its task) leaves the flight, and the
  flight is cancelled only when every request waiting on it has left.
* The payer (below) gets the answer itself, each other request its own copy.  A stream
  others wait for is shared with :class:`~thrifty.streams.StreamTee`, batch by batch, and
  a request that joins while it runs reads it from the start; a stream nobody waited for
  is handed over as it is (a tee costs ~10 µs per upstream read), so it cannot be joined.
* One request pays: the first still waiting when the answer arrives.  Its row books the
  call; every other is a follower, booked at $0 with ``Step("coalesce", ...,
  avoided=usage)``, the whole baseline of the call it did not make.  A payer that leaves
  before the end of a stream hands the call to a follower still reading, which then
  books it.
* A failed call fails every request of the flight with the same error (followers book it
  at $0: they made no call).

By default only requests whose answer does not depend on sampling are coalesced
(``temperature = 0``, ``top_k = 1``, a ``seed``, or embeddings): two apps that send the
same sampled request at once may want two different answers (best-of-n, self-consistency).
``sampled = true`` coalesces them too (docs/levers/fewer-calls.md).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import orjson

from thrifty.errors import ThriftyError
from thrifty.streams import GuardedStream, StreamTee, TeeClosed, observed
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.config import CoalesceSettings
    from thrifty.pipeline import Parts

__all__ = ["Mode", "build", "coalesce_stage", "flight_key", "is_deterministic"]

Mode = Literal["off", "deterministic", "all"]
# (body, model, dialect, api, tenant, task, forwarded headers)
FlightKey = tuple[bytes, str, str, str, str, str, tuple[tuple[str, str], ...]]
FOLLOWER = "follower"  # the x-thrifty-coalesce header of a request that shared a call


def is_deterministic(request: ChatRequest) -> bool:
    """Whether the request asks for an answer that does not depend on sampling."""
    if request.api == "embeddings":
        return True
    body = request.body
    temperature = body.get("temperature")
    if temperature == 0 and not isinstance(temperature, bool):
        return True
    top_k = body.get("top_k")
    return (top_k == 1 and not isinstance(top_k, bool)) or body.get("seed") is not None


def flight_key(request: ChatRequest) -> FlightKey | None:
    """The key two requests must share to share a call: the same body (key order aside),
    model, dialect, API, tenant, task and forwarded headers; ``None`` for a body that is
    not plain JSON (a library caller's own objects), which is never shared."""
    try:
        body = orjson.dumps(request.body, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return (
        body,
        request.model,
        request.dialect,
        request.api,
        request.tenant or "",
        request.task or "",
        request.upstream_headers,
    )


@dataclasses.dataclass(eq=False, slots=True)
class _Seat:
    """One request sharing a flight."""

    view: ChatResponse | None = None  # its own response, once the answer came
    step: Step | None = None  # its coalesce step while it is a follower
    payer: bool = False
    open: bool = True  # still waiting, or still reading its stream
    # Set when the call ended: each seat waits on a future of its own (awaited directly,
    # one loop turn after the call; a seat that leaves cancels only its own).
    ready: asyncio.Future[None] | None = None


class _Flight:
    """One upstream call and the requests sharing it."""

    __slots__ = ("abandoned", "error", "key", "seats", "source", "task", "tee")

    def __init__(self, key: FlightKey) -> None:
        self.key = key
        self.seats: list[_Seat] = []
        self.task: asyncio.Task[None] | None = None
        self.source: ChatResponse | None = None
        self.tee: StreamTee | None = None
        self.abandoned = False  # every request left before the answer: cancelled
        self.error: BaseException | None = None  # how the call failed

    def wake(self) -> None:
        for seat in self.seats:
            if seat.ready is not None and not seat.ready.done():
                seat.ready.set_result(None)

    @property
    def joinable(self) -> bool:
        if self.abandoned or self.task is None:
            return False
        if not self.task.done():
            return True
        tee = self.tee  # answered: only a stream still running can be joined
        return tee is not None and tee.joinable and not tee.done and self._streams

    @property
    def _streams(self) -> bool:
        return self.source is not None and self.source.stream is not None


def _for_follower(exc: BaseException) -> BaseException:
    """The leader's error as a follower raises it: the follower made no call, so its row
    books no unknown cost for it."""
    if not isinstance(exc, ThriftyError):
        return exc
    try:
        twin = copy.copy(exc)
    except Exception:  # an error that cannot be copied: shared as it is
        return exc
    twin.reached_upstream = False
    return twin


class _Coalescer:
    def __init__(self, modes: Mapping[str | None, Mode], inner: Handler) -> None:
        self._modes = modes
        self._default = modes.get(None, "off")
        self._inner = inner
        self._flights: dict[FlightKey, _Flight] = {}

    def _applies(self, request: ChatRequest) -> bool:
        mode = self._modes.get(request.task, self._default)
        if mode == "off":
            return False
        return mode == "all" or is_deterministic(request)

    async def handle(self, request: ChatRequest) -> ChatResponse:
        if not self._applies(request):
            return await self._inner(request)
        key = flight_key(request)
        if key is None:
            return await self._inner(request)
        flight = self._flights.get(key)
        if flight is not None and flight.joinable and flight.task is not None:
            if flight.task.done():  # a stream still running: read it from the start
                joined = self._join_running(flight)
                if joined is not None:
                    return joined
            else:
                return await self._wait(flight)
        flight = _Flight(key)
        self._flights[key] = flight
        flight.task = asyncio.get_running_loop().create_task(self._fly(flight, request))
        return await self._wait(flight)

    def _forget(self, flight: _Flight) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]

    # -- the call ---------------------------------------------------------------------

    async def _fly(self, flight: _Flight, request: ChatRequest) -> None:
        try:
            await self._answer(flight, request)
        except BaseException as exc:  # handed to the seats, not left in the task
            self._forget(flight)
            flight.error = exc
            for seat in flight.seats:
                if seat.open:  # the first still waiting raises the error as it came
                    seat.payer = True
                    break
        finally:
            flight.wake()

    async def _answer(self, flight: _Flight, request: ChatRequest) -> None:
        response = await self._inner(request)
        flight.source = response
        waiting = [seat for seat in flight.seats if seat.open]
        if not waiting:  # every request left as the answer came: nobody will read it
            self._forget(flight)
            await _close(response)
            return
        payer, followers = waiting[0], waiting[1:]
        if response.stream is not None and followers:
            flight.tee = StreamTee(response)  # shared batch by batch, joinable while it runs
            for seat in waiting:
                self._seat(flight, seat, payer=seat is payer)
            return
        # Alone with a stream (nobody to share with: no tee, no cost per batch, and later
        # requests make their own call), or a body: the payer gets the answer itself and
        # each follower its own copy.
        self._forget(flight)
        payer.view, payer.payer = response, True
        if followers:
            copies = StreamTee(response)
            for seat in followers:
                seat.view = copies.subscribe()
                self._follow(seat)

    async def _wait(self, flight: _Flight) -> ChatResponse:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seat = _Seat(ready=ready)
        flight.seats.append(seat)
        try:
            await ready  # leaving (cancelled) never cancels the call itself
        except asyncio.CancelledError:
            await self._leave_early(flight, seat)
            raise
        view, error = seat.view, flight.error
        if view is None:
            seat.open = False
            if error is None:  # cannot happen: a call that ended gave every seat a view
                raise RuntimeError("coalescing: a call ended without an answer or an error")
            raise error if seat.payer else _for_follower(error)
        if view.stream is None or flight.tee is None:
            seat.open = False  # booked by the ledger as soon as it is returned
        return view

    def _join_running(self, flight: _Flight) -> ChatResponse | None:
        seat = _Seat()
        try:
            self._seat(flight, seat, payer=False)
        except TeeClosed:
            return None
        flight.seats.append(seat)
        assert seat.view is not None
        return seat.view

    async def _leave_early(self, flight: _Flight, seat: _Seat) -> None:
        """A request cancelled while it waited (its client left)."""
        view = seat.view
        if view is not None:  # the answer came just before: give back its share
            if view.stream is not None:
                await _close(view)  # a shared stream hands the call over as it closes
            else:
                self._hand_over(flight, seat)
            return
        seat.open = False
        task = flight.task
        if task is not None and not task.done() and not any(s.open for s in flight.seats):
            flight.abandoned = True
            self._forget(flight)
            task.cancel()

    # -- each request's own answer ----------------------------------------------------

    def _seat(self, flight: _Flight, seat: _Seat, *, payer: bool) -> None:
        """Give ``seat`` its own view of a shared stream (raises TeeClosed if the stream
        was abandoned)."""
        assert flight.tee is not None
        view = flight.tee.subscribe()
        seat.view, seat.payer = view, payer
        if not payer:
            self._follow(seat)
        view.stream = self._watched(flight, seat, view)

    @staticmethod
    def _follow(seat: _Seat) -> None:
        """Make ``seat``'s response a follower's: no call, the coalesce step and header."""
        view = seat.view
        assert view is not None
        view.headers = {**view.headers, "coalesce": FOLLOWER}
        view.served = None  # no call of its own
        usage = view.usage if view.usage_reported and view.stream is None else None
        seat.step = Step(lever="coalesce", detail="shared an in-flight call", avoided=usage)
        view.steps.append(seat.step)

    def _watched(self, flight: _Flight, seat: _Seat, view: ChatResponse) -> GuardedStream:
        assert view.stream is not None

        async def on_complete() -> None:
            seat.open = False
            if seat.step is not None and view.usage_reported:
                seat.step.avoided = view.usage  # final now: what the follower avoided
            if flight.tee is not None and flight.tee.done:
                self._forget(flight)

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            self._hand_over(flight, seat)
            if flight.tee is None or flight.tee.done or not flight.tee.joinable:
                self._forget(flight)

        return observed(view, view.stream, on_complete=on_complete, on_abort=on_abort)

    def _hand_over(self, flight: _Flight, seat: _Seat) -> None:
        """``seat`` leaves before the end of its answer.  If it was paying for the call
        and the call goes on for others, the first of them still reading pays instead."""
        seat.open = False
        view = seat.view
        if not seat.payer or view is None:
            return
        source = flight.source
        if flight.tee is not None and flight.tee.done and source is not None:
            # The call ended: all of it was paid, and this request books it.
            view.usage, view.usage_reported = source.usage, source.usage_reported
            view.usage_estimated, view.model = source.usage_estimated, source.model
            return
        heir = next((s for s in flight.seats if s.open and s.view is not None), None)
        if heir is None or heir.view is None:
            return  # nobody left: the call was stopped, and this row books what it cost
        heir.payer, seat.payer = True, False
        heir.view.served, view.served = view.served, None
        if heir.step is not None:
            heir.view.steps.remove(heir.step)
            heir.step = None
        heir.view.headers.pop("coalesce", None)
        view.steps.append(Step(lever="coalesce", detail="left; another request paid the call"))


async def _close(response: ChatResponse) -> None:
    close = getattr(response.stream, "aclose", None)
    if close is not None:
        await close()


def coalesce_stage(modes: Mapping[str | None, Mode]) -> Stage:
    """``modes`` maps a task (``None``: any other task) to what it coalesces: ``"off"``,
    ``"deterministic"`` (requests whose answer does not depend on sampling) or ``"all"``."""

    def wrap(inner: Handler) -> Handler:
        return _Coalescer(modes, inner).handle

    return wrap


def mode_of(settings: CoalesceSettings) -> Mode:
    if not settings.enabled:
        return "off"
    return "all" if settings.sampled else "deterministic"


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    modes: dict[str | None, Mode] = {
        task: mode_of(settings.levers_for(task).coalesce) for task in [None, *settings.tasks]
    }
    if all(mode == "off" for mode in modes.values()):
        return None
    return coalesce_stage(modes)
