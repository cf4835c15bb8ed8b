"""Debounce: a newer request with the same ``x-thrifty-debounce`` key (in the same tenant)
supersedes an older one still in flight (search-as-you-type, autosave, live previews).

* The older request is answered with a 409 ``superseded`` error in its dialect (both SDKs
  raise ``ConflictError``), and its upstream call is cancelled: a call still waiting for its
  answer is cancelled, a stream is cut (the app that already had HTTP 200 gets an error
  event).  Its ledger row says ``failure = superseded``, with what it cost: $0 if it never
  called, the usage streamed so far (an estimate) for a cut stream, unknown for a call
  cancelled while the provider was answering (it may have been billed).
* ``wait_ms`` (default 0): each request waits that long before calling; a newer one arriving
  meanwhile supersedes it before any call, so a burst costs one call.
* Requests without the header pass straight through.

State is per process: two gateway processes do not see each other's requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from thrifty.errors import Superseded
from thrifty.streams import StreamTee, observed
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage

if TYPE_CHECKING:
    from thrifty.config import Settings
    from thrifty.pipeline import Parts

__all__ = ["build", "debounce_stage", "waits_of"]

METADATA_KEY = "debounce_key"
Slot = tuple[str, str]


def _superseded(*, reached_upstream: bool) -> Superseded:
    return Superseded(
        "superseded: a newer request with the same x-thrifty-debounce key replaced this one",
        reached_upstream=reached_upstream,
    )


class _Turn:
    """One request holding a debounce key, until it is answered or superseded."""

    __slots__ = ("call", "superseded", "tee", "wakeup")

    def __init__(self) -> None:
        self.superseded = False
        self.wakeup: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.call: asyncio.Future[ChatResponse] | None = None
        self.tee: StreamTee | None = None

    async def supersede(self) -> None:
        """Stop this request: before its call, during it, or during its stream."""
        self.superseded = True
        if not self.wakeup.done():
            self.wakeup.set_result(None)
        if self.call is not None and not self.call.done():
            self.call.cancel()
        elif self.tee is not None:
            await self.tee.aclose(_superseded(reached_upstream=True))


class _Debouncer:
    def __init__(self, waits: Mapping[str | None, float | None], inner: Handler) -> None:
        self._waits = waits  # task -> wait in seconds, None: off for the task
        self._default = waits.get(None)
        self._inner = inner
        self._turns: dict[Slot, _Turn] = {}

    async def handle(self, request: ChatRequest) -> ChatResponse:
        key = request.metadata.get(METADATA_KEY)
        wait_s = self._waits.get(request.task, self._default)
        if key is None or wait_s is None:
            return await self._inner(request)
        slot = (request.tenant or "", key)
        mine = _Turn()
        previous = self._turns.get(slot)
        self._turns[slot] = mine
        try:
            if previous is not None:
                await previous.supersede()
            response = await self._call(request, mine, wait_s)
        except BaseException:
            self._release(slot, mine)
            raise
        if response.stream is None:
            self._release(slot, mine)
            return response
        return await self._share(slot, mine, response)

    async def _call(self, request: ChatRequest, mine: _Turn, wait_s: float) -> ChatResponse:
        if wait_s > 0:
            await asyncio.wait((mine.wakeup,), timeout=wait_s)
        if mine.superseded:
            raise _superseded(reached_upstream=False)
        mine.call = call = asyncio.ensure_future(self._inner(request))  # a task of its own
        try:
            return await call  # this request's own cancellation cancels the call too
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if mine.superseded and call.cancelled() and (this is None or not this.cancelling()):
                raise _superseded(reached_upstream=True) from None
            raise

    async def _share(self, slot: Slot, mine: _Turn, response: ChatResponse) -> ChatResponse:
        """A stream read through a tee, so that a newer request can cut it."""
        mine.tee = tee = StreamTee(response)
        view = tee.subscribe()
        if mine.superseded:  # superseded as the answer came, before the tee was there
            await tee.aclose(_superseded(reached_upstream=True))

        async def released() -> None:
            self._release(slot, mine)

        async def aborted(exc: BaseException | None, handed_on: bool) -> None:
            self._release(slot, mine)

        assert view.stream is not None
        view.stream = observed(view, view.stream, on_complete=released, on_abort=aborted)
        return view

    def _release(self, slot: Slot, mine: _Turn) -> None:
        if self._turns.get(slot) is mine:
            del self._turns[slot]


def debounce_stage(waits: Mapping[str | None, float | None]) -> Stage:
    """``waits`` maps a task (``None``: any other task) to how long a request waits before
    calling, in seconds (``None``: the lever is off for that task)."""

    def wrap(inner: Handler) -> Handler:
        return _Debouncer(waits, inner).handle

    return wrap


def waits_of(settings: Settings) -> dict[str | None, float | None]:
    waits: dict[str | None, float | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).debounce
        waits[task] = lever.wait_ms / 1000 if lever.enabled else None
    return waits


async def build(parts: Parts) -> Stage | None:
    waits = waits_of(parts.settings)
    if all(wait is None for wait in waits.values()):
        return None
    return debounce_stage(waits)
