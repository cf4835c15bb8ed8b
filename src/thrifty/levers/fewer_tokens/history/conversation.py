"""Conversations the gateway keeps: ``x-thrifty-conversation: ID`` (docs/levers/
fewer-tokens.md, "Conversations the gateway keeps").

The app sends only its new message(s); the stage puts the stored turns of (tenant,
dialect, ID) before them (and the stored system prompt when the request sends none), so
the exact and semantic caches below key on the whole conversation and the history stage
trims it as if the app had resent it.  After a successful answer (a stream: at its end,
from the recorded events) the new messages and the answer are stored, within
``[levers.history]``'s bounds; a failed or cut request stores nothing.  A store that fails
degrades to stateless: the request goes on as sent, with ``x-thrifty-conversation-warning``.

Kept conversations work whether or not the history lever is on (it trims them only for
the tasks where it is); ``[levers.history] conversations = false`` turns them off, and a
request that names a conversation is then a 400.  One turn of a conversation runs at a
time in the process (:mod:`.turn_locks`): a turn that arrives while another is in flight
waits for it (``conversation_busy = "wait"``, at most ``conversation_wait_s``) or is
refused with a 409 (``"refuse"``); the turn is released on every way out, a stream's at
its end (stored) or when it is cut or the client leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from thrifty.config import HistorySettings
from thrifty.errors import BadRequest
from thrifty.levers.fewer_tokens.history.turn_locks import Turn, TurnLocks
from thrifty.levers.fewer_tokens.history.turns import (
    StoredConversation,
    answer_message,
    bounded,
    conversation_key,
    joined,
    split,
)
from thrifty.requests import check_control
from thrifty.store import Cache, SqliteCache
from thrifty.streams.observe import observed
from thrifty.streams.record import Recorder, body_of
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler, Stage

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

log = logging.getLogger("thrifty.history")

METADATA_KEY = "conversation"
CONTROL_HEADER = "x-thrifty-conversation"
HEADER = "conversation"
WARNING_HEADER = "conversation-warning"
Opening = Callable[[], Awaitable[object]]


class ConversationStage:
    """Joins requests to the conversations kept in ``store`` (opened by ``opening`` on
    first use, if given) and stores each successful turn."""

    def __init__(self, store: Cache, settings: HistorySettings, opening: Opening | None = None):
        self._store = store
        self._settings = settings
        self._opening = opening
        self.turns = TurnLocks(
            limit=settings.max_conversations,
            wait=settings.conversation_busy == "wait",
            wait_s=settings.conversation_wait_s,
        )

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            conversation_id = request.metadata.get(METADATA_KEY)
            if conversation_id is None:
                return await inner(request)
            if request.api != "chat":  # Responses, embeddings...: said, not dropped silently
                response = await inner(request)
                response.headers[WARNING_HEADER] = (
                    f"ignored: kept for chat requests only, not {request.api}"
                )
                return response
            check_control(CONTROL_HEADER, conversation_id)
            if not self._settings.conversations:
                raise BadRequest(
                    f"{CONTROL_HEADER}: conversations are off on this gateway "
                    "([levers.history] conversations = false); resend the whole history"
                )
            key = conversation_key(request.tenant, request.dialect, conversation_id)
            turn = await self.turns.acquire(key)
            try:
                return await self._turn(request, key, inner, turn)
            except BaseException:
                turn.release()
                raise

        return handle

    async def _turn(
        self, request: ChatRequest, key: str, inner: Handler, turn: Turn
    ) -> ChatResponse:
        """Run one turn holding ``turn``; released here, or at the end of the stream."""
        try:
            stored = await self._load(key)
        except Exception as exc:  # an outage: the request goes on as the app sent it
            log.warning("conversations: could not read a conversation: %s", exc)
            turn.release()
            response = await inner(request)
            response.headers[WARNING_HEADER] = "store unavailable: sent without stored turns"
            return response
        sent = request if stored is None else joined(request, stored)
        response = await inner(sent)
        kept = 0 if stored is None else len(stored.messages)
        response.headers[HEADER] = f"{kept} stored messages before this turn"
        if response.stream is None:
            body = response.body
            if _answered(response) and body is not None:
                saved = await self._save(key, sent, response.dialect, body)
                if not saved:
                    response.headers[WARNING_HEADER] = "store unavailable: turn not stored"
            turn.release()
            return response
        self._save_at_end(key, sent, response, turn)
        return response

    async def _load(self, key: str) -> StoredConversation | None:
        if self._opening is not None:
            opening, self._opening = self._opening, None
            await opening()
        raw = await self._store.get(key)
        if raw is None:
            return None
        stored = StoredConversation.decode(raw)
        if stored is None:
            log.warning("conversations: a stored conversation is not readable; starting anew")
        return stored

    async def _save(self, key: str, sent: ChatRequest, dialect: Any, body: JSON) -> bool:
        """Store ``sent``'s conversation and the answer in ``body``; ``False`` on a store
        failure (logged).  An answer without a message stores nothing."""
        answer = answer_message(dialect, body)
        if answer is None or body.get("error") is not None:
            return True
        system, messages = split(sent)
        chosen = self._settings
        try:
            kept = bounded(
                sent.dialect,
                system,
                [*messages, answer],
                chosen.conversation_max_turns,
                chosen.conversation_max_bytes,
            )
            if kept is None:
                log.warning("conversations: the system prompt alone is over the byte bound")
                await self._store.delete(key)
            else:
                await self._store.set(key, kept.encode(), ttl_s=chosen.conversation_ttl_s)
        except Exception as exc:
            log.warning("conversations: could not store a turn: %s", exc)
            return False
        return True

    def _save_at_end(self, key: str, sent: ChatRequest, response: ChatResponse, turn: Turn) -> None:
        assert response.stream is not None
        recorder = Recorder(response.stream, budget=2 * self._settings.conversation_max_bytes)

        async def on_complete() -> None:
            try:
                events, recorder.events = recorder.events, []
                if recorder.overflow or not _answered(response):
                    return
                body = body_of(events, response.dialect, response.usage)
                if body is not None:
                    await self._save(key, sent, response.dialect, body)
            finally:
                turn.release()

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            recorder.events = []
            turn.release()

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)


def _answered(response: ChatResponse) -> bool:
    """An answer the app gets whole (from a provider or a cache), not a failure."""
    if response.stream is not None and not response.stream_complete:
        return False
    return response.failure is None


def conversations_path(parts: Parts) -> str:
    """``[levers.history] conversations_path``, else next to the ledger."""
    configured = parts.settings.levers.history.conversations_path
    if configured is not None:
        return configured
    return str(parts.settings.ledger.beside("conversations"))


async def build(parts: Parts) -> Stage | None:
    chosen = parts.settings.levers.history  # on whatever `enabled` says: see the notes
    store = SqliteCache(
        conversations_path(parts),
        table="conversations",
        max_entries=chosen.max_conversations,
        max_bytes=max(chosen.conversations_max_bytes, chosen.conversation_max_bytes),
        max_value_bytes=chosen.conversation_max_bytes,
    )

    async def open_store() -> None:  # on first use: no file for apps that never send ids
        await parts.resources.enter_async_context(store)

    return ConversationStage(store, chosen, open_store)
