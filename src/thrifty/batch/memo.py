"""Memoization before anything is sent: the exact cache's own store and keys.

An item whose request the exact cache would answer (its task's policy memoizes it and an
entry is stored under its key) is answered from that entry and never sent; an answer a
batch job brings back is stored there in turn, so the same request later (interactive or
in another batch) is a hit.  Keys and policies are the exact cache's
(:mod:`thrifty.levers.fewer_calls.cache_policy`), so both paths share entries.
"""

from __future__ import annotations

import logging
import time

import orjson

from thrifty.batch.booking import request_of, usage_of
from thrifty.batch.queue import ItemRow
from thrifty.config import Settings
from thrifty.dialects.view import RequestView
from thrifty.levers.fewer_calls.cache_entries import CorruptEntry, StoredAnswer, why_not_stored
from thrifty.levers.fewer_calls.cache_policy import Policies, policies_for
from thrifty.store import Cache
from thrifty.types import ChatRequest

log = logging.getLogger("thrifty.batch")


class BatchMemo:
    def __init__(self, store: Cache, policies: Policies, max_entry_bytes: int) -> None:
        self._store = store
        self._policies = policies
        self._max_entry_bytes = max_entry_bytes

    @classmethod
    def of(cls, settings: Settings, store: Cache) -> BatchMemo:
        return cls(store, policies_for(settings), settings.levers.cache.max_entry_bytes)

    def _key(self, request: ChatRequest) -> str | None:
        policy = self._policies.for_task(request.task)
        view = RequestView.of(request)
        if not policy.enabled or not policy.memoizes(request, view, None):
            return None
        return policy.key(request, view)

    async def lookup(self, item: ItemRow) -> StoredAnswer | None:
        """The stored answer to ``item``'s request, if the exact cache has one."""
        key = self._key(request_of(item))
        if key is None:
            return None
        try:
            raw = await self._store.get(key)
            return None if raw is None else StoredAnswer.decode(raw)
        except CorruptEntry:
            return None
        except Exception as exc:  # the store failing is a miss, as in the exact cache
            log.warning("batch: exact cache lookup failed, sent instead: %s", exc)
            return None

    async def keep(self, item: ItemRow, result: bytes) -> None:
        """Store a batch answer for later identical requests (when the policy memoizes)."""
        request = request_of(item)
        key = self._key(request)
        if key is None:
            return
        body = orjson.loads(result)
        usage = usage_of(item.dialect, body)
        if usage is None or why_not_stored(body, request.dialect) is not None:
            return
        entry = StoredAnswer(request.dialect, body, usage, item.model, time.time()).encode()
        if len(entry) > self._max_entry_bytes:
            return
        policy = self._policies.for_task(request.task)
        try:
            await self._store.set(key, entry, ttl_s=policy.ttl_s, tag=request.task)
        except Exception as exc:
            log.warning("batch: could not store an answer in the exact cache: %s", exc)
