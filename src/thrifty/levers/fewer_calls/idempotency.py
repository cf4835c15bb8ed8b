"""Idempotency keys: a request sent again with the same ``Idempotency-Key`` (a
double-clicked submit, a retry after a lost answer) gets the earlier result instead of a
new call.

* The key is scoped by tenant.  The same key with another body (another model, message,
  parameter...) is a 409 ``idempotency_key_reused`` in the endpoint's dialect.
* While the first request with a key is still running, a second one with the same key and
  body waits for it and replays its answer; if the first fails or its client leaves, the
  waiter makes the call itself.  Errors and incomplete streams are never kept: a retry
  after a failure calls again.
* A complete answer is kept for ``ttl_s`` (default 24 h) in the lever's store (SQLite next
  to the ledger by default).  A body is replayed as a body; a stream is replayed as the
  very events the first app received, in one batch.
* A replay is booked at $0 with ``Step("idempotency", "replay", avoided=usage)``: the
  whole baseline of the call it did not repeat.  The app sees ``x-thrifty-idempotency:
  replay``.
* The store failing (cannot open, read or write) only means no replay: the request calls
  upstream, and the failure is logged.

Waiting for an in-flight first request works within one process; two processes sharing
the SQLite file see each other's complete answers, not each other's calls in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from thrifty.errors import IdempotencyKeyReused
from thrifty.levers.fewer_calls.idempotency_records import (
    CorruptRecord,
    Record,
    fingerprint,
    new_store,
    replayed,
    slot_of,
)
from thrifty.levers.lever_wide import refuse_task_overrides
from thrifty.store import Cache, SqliteCache
from thrifty.streams import observed
from thrifty.streams.record import Recorder
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.config import Settings
    from thrifty.pipeline import Parts

__all__ = ["Keeper", "build", "idempotency_stage"]

log = logging.getLogger("thrifty.idempotency")
METADATA_KEY = "idempotency_key"
REPLAY = "replay"  # the x-thrifty-idempotency header of a replayed answer


@dataclass(eq=False, slots=True)
class _InFlight:
    fingerprint: str
    outcome: asyncio.Future[Record | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Keeper:
    """The store, opened on first use (``opening``, if it needs it); every failure is
    logged and means "no record"."""

    def __init__(
        self,
        store: Cache,
        opening: Callable[[], Awaitable[object]] | None = None,
        *,
        max_entry_bytes: int = 2**20,
    ) -> None:
        self.max_entry_bytes = max_entry_bytes
        self._store = store
        self._opening = opening
        self._ready: Cache | None = store if opening is None else None
        self._failed = False
        self._lock = asyncio.Lock()

    async def _opened(self) -> Cache | None:
        if self._ready is not None or self._failed:
            return self._ready
        async with self._lock:
            if self._ready is None and not self._failed and self._opening is not None:
                try:
                    await self._opening()
                    self._ready = self._store
                except Exception as exc:
                    self._failed = True
                    log.error("idempotency: cannot open its store (%s): no replays", exc)
        return self._ready

    async def get(self, slot: str) -> Record | None:
        store = await self._opened()
        if store is None:
            return None
        try:
            raw = await store.get(slot)
        except Exception as exc:
            log.warning("idempotency: lookup failed, the request calls upstream: %s", exc)
            return None
        if raw is None:
            return None
        try:
            return Record.decode(raw)
        except CorruptRecord as exc:
            log.warning("idempotency: unreadable record dropped: %s", exc)
            return None

    async def put(self, slot: str, record: Record, ttl_s: float) -> None:
        store = await self._opened()
        if store is None:
            return
        try:
            await store.set(slot, record.encode(), ttl_s=ttl_s)
        except Exception as exc:  # too large, unencodable, or the store failed
            log.warning("idempotency: the answer was not kept (%s)", exc)


class _Idempotency:
    def __init__(self, keeper: Keeper, ttls: Mapping[str | None, float | None], inner: Handler):
        self._keeper = keeper
        self._ttls = ttls  # task -> TTL in seconds, None: off for the task
        self._default = ttls.get(None)
        self._inner = inner
        self._in_flight: dict[str, _InFlight] = {}

    async def handle(self, request: ChatRequest) -> ChatResponse:
        key = request.metadata.get(METADATA_KEY)
        ttl = self._ttls.get(request.task, self._default)
        if key is None or ttl is None:
            return await self._inner(request)
        slot = slot_of(request.tenant, key)
        fp = fingerprint(request)
        while (running := self._in_flight.get(slot)) is not None:
            _check(running.fingerprint, fp)
            record = await asyncio.shield(running.outcome)
            if record is not None:
                return _replay(record)
            # The first failed, or its client left: this one calls (unless another did).
        mine = self._in_flight[slot] = _InFlight(fp)
        try:
            record = await self._keeper.get(slot)
            if record is not None:
                _check(record.fingerprint, fp)
                self._finish(slot, mine, record)
                return _replay(record)
            response = await self._inner(request)
        except BaseException:
            self._finish(slot, mine, None)
            raise
        if response.stream is None:
            kept = Record.of(fp, response)
            await self._keeper.put(slot, kept, ttl)
            self._finish(slot, mine, kept)
            return response
        self._keep_when_complete(slot, mine, response, ttl)
        return response

    def _keep_when_complete(
        self, slot: str, mine: _InFlight, response: ChatResponse, ttl: float
    ) -> None:
        assert response.stream is not None
        recorder = Recorder(response.stream, budget=self._keeper.max_entry_bytes)

        async def on_complete() -> None:
            kept = (
                None
                if recorder.overflow
                else Record.of(mine.fingerprint, response, recorder.events)
            )
            self._finish(slot, mine, kept)
            if kept is not None:
                await self._keeper.put(slot, kept, ttl)

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            self._finish(slot, mine, None)

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)

    def _finish(self, slot: str, mine: _InFlight, record: Record | None) -> None:
        if self._in_flight.get(slot) is mine:
            del self._in_flight[slot]
        if not mine.outcome.done():
            mine.outcome.set_result(record)


def _check(stored: str, fp: str) -> None:
    if stored != fp:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request"
        )


def _replay(record: Record) -> ChatResponse:
    response = replayed(record)
    avoided = record.usage if record.usage_reported else None
    response.steps.append(Step(lever="idempotency", detail=REPLAY, avoided=avoided))
    response.headers["idempotency"] = REPLAY
    return response


def idempotency_stage(keeper: Keeper, ttls: Mapping[str | None, float | None]) -> Stage:
    """``ttls`` maps a task (``None``: any other task) to how long its answers are kept,
    in seconds (``None``: the lever is off for that task)."""

    def wrap(inner: Handler) -> Handler:
        return _Idempotency(keeper, ttls, inner).handle

    return wrap


STORE_KEYS = frozenset({"backend", "path", "max_entries", "max_bytes", "max_entry_bytes"})


def ttls_of(settings: Settings) -> dict[str | None, float | None]:
    """task -> how long its answers are kept (``None``: off).  The store settings are
    shared by every task: naming one in ``[tasks.T.idempotency]`` is a start-up error."""
    refuse_task_overrides(settings, "idempotency", STORE_KEYS, "one store serves every task")
    ttls: dict[str | None, float | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).idempotency
        ttls[task] = lever.ttl_s if lever.enabled else None
    return ttls


async def build(parts: Parts) -> Stage | None:
    ttls = ttls_of(parts.settings)
    if all(ttl is None for ttl in ttls.values()):
        return None
    store = new_store(parts.settings)
    opening: Callable[[], Awaitable[object]] | None = None
    if isinstance(store, SqliteCache):
        sqlite = store

        async def open_sqlite() -> None:  # on first use: no file for apps that never send keys
            await parts.resources.enter_async_context(sqlite)

        opening = open_sqlite
    keeper = Keeper(
        store, opening, max_entry_bytes=parts.settings.levers.idempotency.max_entry_bytes
    )
    return idempotency_stage(keeper, ttls)
