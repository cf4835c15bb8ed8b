"""The exact cache: an identical request is answered from the stored answer, at no cost.

For each request its task's policy (``cache_policy.py``) decides whether it is memoized
(deterministic requests by default) and under which key.  Then:

* **hit**: the stored answer is replayed in the app's form, a body or a stream with usage
  (:func:`thrifty.streams.replay`), with no provider call; the response states
  ``Step("cache", avoided=stored usage)`` and the Accountant books the avoided call's
  baseline, priced on the requested model, as the cache's saving;
* **miss**: the request goes on; a body that is a whole, plain answer is stored, a stream
  is recorded as it goes to the app and stored once it completed (``cache_streams.py``);
  errors, refusals, truncated, empty and cut answers never are.  The write to the store
  runs in a task of its own once the answer is on its way (a miss does not wait for the
  store); until it is done the entry is served from memory, so an identical request right
  after is already a hit.

The app learns which from ``x-thrifty-cache: hit | miss | refresh | bypass`` and may send
``x-thrifty-cache: bypass`` (no cache), ``refresh`` (call and overwrite the entry) or
``always`` (memoize even a non-deterministic request).  The store failing, or an entry that
cannot be read, is a miss (logged and counted), never a failed request nor a wrong answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from thrifty.dialects.view import RequestView
from thrifty.levers.fewer_calls.cache_entries import (
    CorruptEntry,
    StoredAnswer,
    answer_of,
    why_not_kept,
    why_not_stored,
)
from thrifty.levers.fewer_calls.cache_policy import Policies, Policy, control_of, policies_for
from thrifty.levers.fewer_calls.cache_store import Tally, open_store
from thrifty.levers.fewer_calls.cache_streams import Recorder, body_of
from thrifty.store import Cache
from thrifty.store.memory import Clock
from thrifty.streams import observed, replay
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

__all__ = ["ExactCache", "build"]

log = logging.getLogger("thrifty.cache")
PROVIDER = "cache"  # the provider named on an answer from the cache


class ExactCache:
    """The exact cache stage over ``store`` (see the module docstring): call it with the
    inner handler.  Store failures become misses or skipped writes, logged and counted;
    :meth:`drain` waits for the writes under way."""

    def __init__(
        self,
        store: Cache,
        policies: Policies,
        tally: Tally | None = None,
        *,
        max_entry_bytes: int = 2**20,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.policies = policies
        self.tally = tally or Tally(None)
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        self._pending: dict[str, bytes] = {}  # written soon: served from here meanwhile
        self._assembling: dict[str, asyncio.Task[None]] = {}  # completed streams being kept
        self._writes: set[asyncio.Task[None]] = set()

    def __call__(self, inner: Handler) -> Handler:
        policies, count = self.policies, self.tally.add

        async def handle(request: ChatRequest) -> ChatResponse:
            control = control_of(request)
            policy = policies.for_task(request.task)
            if not policy.enabled:
                return await inner(request)
            view = RequestView.of(request)
            if control == "bypass" or not policy.memoizes(request, view, control):
                await count("bypass", request.task)
                response = await inner(request)
                response.headers["cache"] = "bypass"
                return response
            key = policy.key(request, view)
            if control != "refresh":
                stored = await self._lookup(key, request.task)
                if stored is not None:
                    await count("hit", request.task)
                    return self._answer(request, stored)
            outcome = "refresh" if control == "refresh" else "miss"
            await count(outcome, request.task)
            response = await inner(request)
            response.headers["cache"] = outcome
            if response.stream is not None:
                self._keep_stream(key, policy, request, response)
            elif response.body is not None:
                await self._keep(key, policy, request, response, response.body)
            return response

        return handle

    async def drain(self) -> None:
        """Wait for every write under way (at shutdown, and in tests)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    # -- reading ---------------------------------------------------------------------------

    async def _lookup(self, key: str, task: str | None) -> StoredAnswer | None:
        assembling = self._assembling.get(key)
        if assembling is not None:  # a stream of this key just completed: its entry first
            await asyncio.shield(assembling)
        raw = self._pending.get(key)
        if raw is None:
            try:
                raw = await self.store.get(key)
            except Exception as exc:
                log.warning("exact cache: lookup failed, treated as a miss: %s", exc)
                await self.tally.add("error", task)
                return None
            if raw is None:
                return None
        try:
            return StoredAnswer.decode(raw)
        except CorruptEntry as exc:
            log.warning("exact cache: unreadable entry dropped, treated as a miss: %s", exc)
            await self.tally.add("corrupt", task)
            await self._forget(key)
            return None

    def _answer(self, request: ChatRequest, stored: StoredAnswer) -> ChatResponse:
        response = replay(
            request,
            stored.body,
            dialect=stored.dialect,
            usage=stored.usage,
            model=stored.model,
            provider=PROVIDER,
        )
        response.steps.append(Step("cache", "cache: hit", avoided=stored.usage))
        response.headers["cache"] = "hit"
        response.headers["cache-age"] = str(max(0, int(self.clock() - stored.stored_at)))
        return response

    # -- writing ---------------------------------------------------------------------------

    async def _keep(
        self, key: str, policy: Policy, request: ChatRequest, response: ChatResponse, body: JSON
    ) -> None:
        task = request.task
        reason = why_not_kept(response) or why_not_stored(body, response.dialect)
        if reason is None:
            try:
                value = answer_of(response, body, self.clock()).encode()
            except TypeError:
                reason = "not JSON"
            else:
                if len(value) > self.max_entry_bytes:
                    reason = f"{len(value)} bytes, over max_entry_bytes"
        if reason is not None:
            log.debug("exact cache: answer not stored (%s)", reason)
            await self.tally.add("not_stored", task)
            if request.metadata.get("cache") == "refresh":
                await self._forget(key)  # the app said the old entry is stale
            return
        self._pending[key] = value
        self._spawn(self._write(key, value, policy.ttl_s, task))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        write = asyncio.get_running_loop().create_task(work)
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        return write

    async def _write(self, key: str, value: bytes, ttl_s: float | None, task: str | None) -> None:
        try:
            await self.store.set(key, value, ttl_s=ttl_s, tag=task)
        except Exception as exc:
            log.warning("exact cache: could not store an answer: %s", exc)
            await self.tally.add("error", task)
        else:
            await self.tally.add("stored", task)
        finally:
            if self._pending.get(key) is value:
                del self._pending[key]

    async def _forget(self, key: str) -> None:
        self._pending.pop(key, None)
        try:
            await self.store.delete(key)
        except Exception as exc:
            log.warning("exact cache: could not drop an entry: %s", exc)

    def _keep_stream(
        self, key: str, policy: Policy, request: ChatRequest, response: ChatResponse
    ) -> None:
        assert response.stream is not None
        recorder = Recorder(response.stream, budget=2 * self.max_entry_bytes)

        async def keep_recorded() -> None:
            events, recorder.events = recorder.events, []
            try:
                body = (
                    None if recorder.overflow else body_of(events, response.dialect, response.usage)
                )
                if body is None:
                    await self.tally.add("not_stored", request.task)
                else:
                    await self._keep(key, policy, request, response, body)
            except Exception:  # the app's stream went on whatever happens here
                log.exception("exact cache: could not store a stream")

        def done(kept: asyncio.Task[None]) -> None:
            if self._assembling.get(key) is kept:
                del self._assembling[key]

        async def on_complete() -> None:
            kept = self._spawn(keep_recorded())  # the final batch is not held for it
            self._assembling[key] = kept
            kept.add_done_callback(done)

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            recorder.events = []
            await self.tally.add("not_stored", request.task)

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    policies = policies_for(settings)
    if not policies.any_enabled:
        return None
    store, counters = await open_store(settings)
    parts.resources.push_async_callback(store.close)
    tally = Tally(counters)
    if counters is not None:
        parts.resources.push_async_callback(counters.close)
        parts.resources.push_async_callback(tally.flush)
    cache = ExactCache(
        store, policies, tally, max_entry_bytes=settings.levers.cache.max_entry_bytes
    )
    parts.resources.push_async_callback(cache.drain)  # closed newest first: writes done first
    return cache
