"""The exact cache: an identical request is answered from the stored answer, at no cost.

For each request its task's policy (``cache_policy.py``) decides whether it is memoized
(deterministic requests by default) and under which key.  Then:

* **hit**: the stored answer is replayed in the app's form, a body or a stream with usage
  (:func:`thrifty.streams.replay`), with no provider call; the response states
  ``Step("cache", avoided=stored usage)`` and the Accountant books the avoided call's
  baseline, priced on the requested model, as the cache's saving;
* **miss**: the request goes on; a body that is a whole, plain answer is stored, a stream
  is recorded as it goes to the app and stored once it completed (``thrifty.streams.record``);
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
from thrifty.levers.fewer_calls.cache_embeddings import (
    NotEmbeddings,
    StoredVector,
    answer_body,
    item_keys,
    items_of,
    stored_usage,
    vectors_of,
    with_items,
)
from thrifty.levers.fewer_calls.cache_entries import (
    CorruptEntry,
    StoredAnswer,
    answer_of,
    why_not_kept,
    why_not_stored,
)
from thrifty.levers.fewer_calls.cache_policy import Policies, Policy, control_of, policies_for
from thrifty.levers.fewer_calls.cache_store import Tally, open_store
from thrifty.store import Cache
from thrifty.store.memory import Clock
from thrifty.streams import observed, replay
from thrifty.streams.record import Recorder, body_of
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler, Stage, Step, TokenChange

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

__all__ = ["ExactCache", "build"]

log = logging.getLogger("thrifty.cache")
PROVIDER = "cache"  # the provider named on an answer from the cache
LATER_S = 0.002  # how long writes wait, so that they run after the answer was sent


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
            if request.api == "embeddings" and control != "bypass":
                return await self._embeddings(request, inner, policy, control)
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

    async def _fetch(self, key: str, task: str | None) -> bytes | None:
        """The stored bytes of ``key`` (``None``: absent, or the store failed)."""
        assembling = self._assembling.get(key)
        if assembling is not None:  # a stream of this key just completed: its entry first
            await asyncio.shield(assembling)
        raw = self._pending.get(key)
        if raw is not None:
            return raw
        try:
            return await self.store.get(key)
        except Exception as exc:
            log.warning("exact cache: lookup failed, treated as a miss: %s", exc)
            await self.tally.add("error", task)
            return None

    async def _corrupt(self, key: str, task: str | None, exc: ValueError) -> None:
        log.warning("exact cache: unreadable entry dropped, treated as a miss: %s", exc)
        await self.tally.add("corrupt", task)
        await self._forget(key)

    async def _lookup(self, key: str, task: str | None) -> StoredAnswer | None:
        raw = await self._fetch(key, task)
        if raw is None:
            return None
        try:
            return StoredAnswer.decode(raw)
        except CorruptEntry as exc:
            await self._corrupt(key, task, exc)
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
        self._store(key, value, policy.ttl_s, task)

    def _store(self, key: str, value: bytes, ttl_s: float | None, task: str | None) -> None:
        self._pending[key] = value
        self._spawn(self._write(key, value, ttl_s, task))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """``work`` in a task of its own, started after ``LATER_S``: by then the answer
        has been sent (a task started at once would run before the gateway's next step
        whenever the request waits on another task, as coalesced requests do)."""

        async def later() -> None:
            try:
                await asyncio.sleep(LATER_S)
            except BaseException:
                work.close()  # cancelled before it began (the loop is shutting down)
                raise
            await work

        write = asyncio.get_running_loop().create_task(later())
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

    # -- embeddings, per input ---------------------------------------------------------------

    async def _embeddings(
        self, request: ChatRequest, inner: Handler, policy: Policy, control: str | None
    ) -> ChatResponse:
        task = request.task
        parsed = items_of(request.body)
        if parsed is None:
            await self.tally.add("bypass", task)
            response = await inner(request)
            response.headers["cache"] = "bypass"
            return response
        items, single = parsed
        keys = item_keys(request, items)
        found: list[StoredVector | None] = [None] * len(items)
        if control != "refresh":
            found = [await self._lookup_vector(key, task) for key in keys]
        missing = [i for i, vector in enumerate(found) if vector is None]
        if not missing:
            await self.tally.add("hit", task)
            return self._vectors_answer([v for v in found if v is not None])
        outcome = "refresh" if control == "refresh" else "miss"
        if len(missing) < len(items):
            outcome = "partial"
        await self.tally.add(outcome, task)
        asked = [items[i] for i in missing]
        response = await inner(with_items(request, asked, single))
        response.headers["cache"] = outcome
        try:
            fresh = vectors_of(response, asked)
        except NotEmbeddings as exc:
            log.debug("exact cache: embeddings not stored (%s)", exc)
            await self.tally.add("not_stored", task)
            if len(missing) == len(items):
                return response
            whole = await inner(request)  # the part cannot be merged: ask for everything
            whole.headers["cache"] = "bypass"
            return whole
        for index, vector in zip(missing, fresh, strict=True):
            found[index] = vector
            self._store(keys[index], vector.encode(), policy.ttl_s, task)
            await self.tally.add("stored", task)
        if len(missing) == len(items):
            return response  # the upstream's own answer
        vectors = [v for v in found if v is not None]
        asked_for = set(missing)
        cached = sum(v.tokens for i, v in enumerate(vectors) if i not in asked_for)
        response.body = answer_body(vectors, response.model)
        response.raw_body = None  # the upstream's bytes held only the inputs it was asked
        detail = f"cache: {len(items) - len(missing)} of {len(items)} inputs"
        response.steps.append(Step("cache", detail, tokens=TokenChange(input_tokens=-cached)))
        return response

    async def _lookup_vector(self, key: str, task: str | None) -> StoredVector | None:
        raw = await self._fetch(key, task)
        if raw is None:
            return None
        try:
            return StoredVector.decode(raw)
        except NotEmbeddings as exc:
            await self._corrupt(key, task, exc)
            return None

    def _vectors_answer(self, vectors: list[StoredVector]) -> ChatResponse:
        model = vectors[0].model
        usage = stored_usage(vectors)
        response = ChatResponse(
            dialect="openai",
            model=model,
            provider=PROVIDER,
            usage=usage,
            body=answer_body(vectors, model),
        )
        response.steps.append(Step("cache", "cache: hit", avoided=usage))
        response.headers["cache"] = "hit"
        return response


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
