"""The exact cache: an identical request is answered from the stored answer, at no cost.

For each request its task's policy (``cache_policy.py``) decides whether it is memoized
(deterministic requests by default) and under which key.  Then:

* **hit**: the stored answer is replayed in the app's form, a body or a stream with usage
  (:func:`thrifty.streams.replay`), with no provider call; the response states
  ``Step("cache", avoided=stored usage)`` and the Accountant books the avoided call's
  baseline, priced on the requested model, as the cache's saving;
* **miss**: the request goes on; a body that is a whole, plain answer is stored before it
  is returned, a stream is recorded as it goes to the app and stored once it completed
  (``cache_streams.py``); errors, refusals, truncated, empty and cut answers never are.

The app learns which from ``x-thrifty-cache: hit | miss | refresh | bypass`` and may send
``x-thrifty-cache: bypass`` (no cache), ``refresh`` (call and overwrite the entry) or
``always`` (memoize even a non-deterministic request).  The store failing, or an entry that
cannot be read, is a miss (logged and counted), never a failed request nor a wrong answer.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

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

__all__ = ["build", "cache_stage"]

log = logging.getLogger("thrifty.cache")
PROVIDER = "cache"  # the provider named on an answer from the cache


class _Memo:
    """The store, as the stage uses it: every failure becomes a miss or a skipped write."""

    def __init__(self, store: Cache, tally: Tally, max_entry_bytes: int, clock: Clock) -> None:
        self.store = store
        self.tally = tally
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock

    async def lookup(self, key: str, task: str | None) -> StoredAnswer | None:
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

    async def keep(
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
        try:
            await self.store.set(key, value, ttl_s=policy.ttl_s, tag=task)
        except Exception as exc:
            log.warning("exact cache: could not store an answer: %s", exc)
            await self.tally.add("error", task)
        else:
            await self.tally.add("stored", task)

    async def _forget(self, key: str) -> None:
        try:
            await self.store.delete(key)
        except Exception as exc:
            log.warning("exact cache: could not drop an entry: %s", exc)

    def answer(self, request: ChatRequest, stored: StoredAnswer) -> ChatResponse:
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

    def keep_stream(
        self, key: str, policy: Policy, request: ChatRequest, response: ChatResponse
    ) -> None:
        assert response.stream is not None
        recorder = Recorder(response.stream, budget=2 * self.max_entry_bytes)

        async def on_complete() -> None:
            try:
                body = (
                    None
                    if recorder.overflow
                    else body_of(recorder.events, response.dialect, response.usage)
                )
                if body is None:
                    await self.tally.add("not_stored", request.task)
                else:
                    await self.keep(key, policy, request, response, body)
            except Exception:  # the app's stream goes on whatever happens here
                log.exception("exact cache: could not store a stream")
            finally:
                recorder.events = []

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            recorder.events = []
            await self.tally.add("not_stored", request.task)

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)


def cache_stage(
    store: Cache,
    policies: Policies,
    tally: Tally | None = None,
    *,
    max_entry_bytes: int = 2**20,
    clock: Clock = time.time,
) -> Stage:
    """The exact cache over ``store`` (see the module docstring)."""
    memo = _Memo(store, tally or Tally(None), max_entry_bytes, clock)
    count = memo.tally.add

    def wrap(inner: Handler) -> Handler:
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
                stored = await memo.lookup(key, request.task)
                if stored is not None:
                    await count("hit", request.task)
                    return memo.answer(request, stored)
            outcome = "refresh" if control == "refresh" else "miss"
            await count(outcome, request.task)
            response = await inner(request)
            response.headers["cache"] = outcome
            if response.stream is not None:
                memo.keep_stream(key, policy, request, response)
            elif response.body is not None:
                await memo.keep(key, policy, request, response, response.body)
            return response

        return handle

    return wrap


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
        parts.resources.push_async_callback(tally.flush)  # closed newest first: flush, then close
    return cache_stage(
        store, policies, tally, max_entry_bytes=settings.levers.cache.max_entry_bytes
    )
