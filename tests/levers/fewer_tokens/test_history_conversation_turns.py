"""Kept conversations, one turn at a time (:class:`ConversationStage` with its
:class:`TurnLocks`): a second turn of a conversation in flight waits and then sees the
first turn, or is refused with a 409; the turn is released on every way out (an answer,
an error, a cancelled request, a stream at its end or cut); conversations can be turned
off (a 400)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from thrifty.config import HistorySettings
from thrifty.errors import BadRequest, ConversationBusy, UpstreamUnavailable
from thrifty.levers.fewer_tokens.history.conversation import (
    HEADER,
    WARNING_HEADER,
    ConversationStage,
)
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Handler

WAIT = HistorySettings(enabled=True)
REFUSE = HistorySettings(enabled=True, conversation_busy="refuse")


def turn(text: str, *, stream: bool = False) -> ChatRequest:
    request = request_for("gpt-4o", text, tenant="t1", stream=stream)
    return dataclasses.replace(request, metadata={"conversation": "c1"})


class Gate:
    """An upstream whose answers to requests containing ``held`` wait for ``open``."""

    def __init__(self, held: str, answer: Callable[[ChatRequest], ChatResponse] = reply) -> None:
        self.held = held
        self.open = asyncio.Event()
        self.reached = asyncio.Event()
        self._answer = answer

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        if self.held in str(request.body["messages"][-1]):
            self.reached.set()
            await self.open.wait()
        return self._answer(request)


Turn = Callable[[ChatRequest], Coroutine[Any, Any, ChatResponse]]


def stage(settings: HistorySettings, upstream: Handler) -> tuple[ConversationStage, Turn]:
    conversation = ConversationStage(MemoryCache(), settings)
    handler = conversation(upstream)

    async def handle(request: ChatRequest) -> ChatResponse:
        return await handler(request)

    return conversation, handle


async def test_a_second_turn_waits_and_then_sees_the_first() -> None:
    gate = Gate("first")
    upstream = FakeUpstream(gate)
    conversation, handle = stage(WAIT, upstream)
    first = asyncio.create_task(handle(turn("first")))
    await gate.reached.wait()
    second = asyncio.create_task(handle(turn("second")))
    await asyncio.sleep(0.02)
    assert len(upstream.requests) == 1  # the second turn has not been sent
    gate.open.set()
    await first
    answer = await second
    assert answer.headers[HEADER] == "2 stored messages before this turn"
    sent = upstream.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert len(conversation.turns) == 0


async def test_refuse_mode_answers_a_409_while_a_turn_is_in_flight() -> None:
    gate = Gate("first")
    conversation, handle = stage(REFUSE, FakeUpstream(gate))
    first = asyncio.create_task(handle(turn("first")))
    await gate.reached.wait()
    with pytest.raises(ConversationBusy, match="in flight"):
        await handle(turn("second"))
    gate.open.set()
    await first
    assert (await handle(turn("third"))).headers[HEADER] == "2 stored messages before this turn"
    assert len(conversation.turns) == 0


async def test_a_stream_holds_the_turn_until_its_end() -> None:
    upstream = FakeUpstream(lambda r: stream_reply(r, ("a", "b")) if r.stream else reply(r))
    conversation, handle = stage(REFUSE, upstream)
    streamed = await handle(turn("first", stream=True))
    with pytest.raises(ConversationBusy):
        await handle(turn("second"))
    await collect(streamed)
    assert len(conversation.turns) == 0
    assert (await handle(turn("third"))).headers[HEADER] == "2 stored messages before this turn"


async def test_a_stream_closed_before_its_end_releases_the_turn_and_stores_nothing() -> None:
    upstream = FakeUpstream(lambda r: stream_reply(r, ("a", "b", "c")) if r.stream else reply(r))
    conversation, handle = stage(REFUSE, upstream)
    streamed = await handle(turn("first", stream=True))
    assert streamed.stream is not None
    await anext(streamed.stream)
    await streamed.stream.aclose()  # type: ignore[attr-defined]
    assert len(conversation.turns) == 0
    assert (await handle(turn("again"))).headers[HEADER] == "0 stored messages before this turn"


async def test_a_stream_never_started_releases_the_turn_when_closed() -> None:
    upstream = FakeUpstream(lambda r: stream_reply(r, ("a",)))
    conversation, handle = stage(REFUSE, upstream)
    streamed = await handle(turn("first", stream=True))
    assert streamed.stream is not None and len(conversation.turns) == 1
    await streamed.stream.aclose()  # type: ignore[attr-defined]
    assert len(conversation.turns) == 0


async def test_an_upstream_error_releases_the_turn() -> None:
    def fail(request: ChatRequest) -> ChatResponse:
        raise UpstreamUnavailable("down")

    conversation, handle = stage(REFUSE, FakeUpstream(fail))
    with pytest.raises(UpstreamUnavailable):
        await handle(turn("first"))
    assert len(conversation.turns) == 0


async def test_a_cancelled_turn_releases_it() -> None:
    gate = Gate("first")
    conversation, handle = stage(REFUSE, FakeUpstream(gate))
    first = asyncio.create_task(handle(turn("first")))
    await gate.reached.wait()
    first.cancel()  # the client left
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(conversation.turns) == 0
    assert (await handle(turn("second"))).headers[HEADER] == "0 stored messages before this turn"


async def test_a_cancelled_wait_leaves_the_turn_to_the_one_in_flight() -> None:
    gate = Gate("first")
    conversation, handle = stage(WAIT, FakeUpstream(gate))
    first = asyncio.create_task(handle(turn("first")))
    await gate.reached.wait()
    waiting = asyncio.create_task(handle(turn("second")))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(conversation.turns) == 1  # the first turn still holds it
    gate.open.set()
    await first
    assert len(conversation.turns) == 0


async def test_conversations_turned_off_are_a_400() -> None:
    off = HistorySettings(conversations=False)
    upstream = FakeUpstream()
    _, handle = stage(off, upstream)
    with pytest.raises(BadRequest, match="conversations are off"):
        await handle(turn("q"))
    assert upstream.requests == []
    plain = request_for("gpt-4o", "q")
    await handle(plain)  # without an id: untouched
    assert upstream.requests == [plain]


async def test_an_id_on_a_request_that_is_not_chat_is_said_to_be_ignored() -> None:
    upstream = FakeUpstream()
    _, handle = stage(WAIT, upstream)
    request = dataclasses.replace(turn("q"), api="responses")
    response = await handle(request)
    assert upstream.requests == [request]  # sent as it came
    assert response.headers[WARNING_HEADER] == (
        "ignored: kept for chat requests only, not responses"
    )
