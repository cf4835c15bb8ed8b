"""Conversations the gateway keeps, unit by unit: how turns are joined, bounded and keyed
(:mod:`thrifty.levers.fewer_tokens.history.turns`), and what the stage stores, when, and
what it does when the store fails (:mod:`...history.conversation`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from thrifty.config import HistorySettings
from thrifty.errors import BadRequest
from thrifty.levers.fewer_tokens.history.conversation import (
    HEADER,
    WARNING_HEADER,
    ConversationStage,
)
from thrifty.levers.fewer_tokens.history.turns import (
    StoredConversation,
    answer_message,
    bounded,
    conversation_key,
    joined,
)
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, Dialect

SETTINGS = HistorySettings(enabled=True, conversation_ttl_s=60)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def in_conversation(
    text: str, conversation_id: str = "c1", *, dialect: Dialect = "openai", **kw: Any
) -> ChatRequest:
    request = request_for("gpt-4o", text, dialect=dialect, tenant=kw.pop("tenant", "t1"), **kw)
    return dataclasses.replace(request, metadata={"conversation": conversation_id})


# -- turns --------------------------------------------------------------------------------


def test_bounded_drops_the_oldest_turns_at_a_user_message() -> None:
    messages = [user("a"), assistant("b"), user("c"), assistant("d"), user("e"), assistant("f")]
    kept = bounded("openai", None, messages, max_turns=5, max_bytes=10_000)
    assert kept is not None and kept.messages == messages[2:]  # 5 would start at "b"
    kept = bounded("openai", None, messages, max_turns=6, max_bytes=10_000)
    assert kept is not None and kept.messages == messages


def test_bounded_keeps_within_the_byte_bound() -> None:
    messages = [user("x" * 400), assistant("y" * 400), user("z"), assistant("w")]
    kept = bounded("openai", None, messages, max_turns=100, max_bytes=500)
    assert kept is not None and kept.messages == messages[2:]
    assert len(kept.encode()) <= 500


def test_bounded_never_starts_at_an_anthropic_tool_result() -> None:
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t", "content": "1"}],
    }
    call = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
    }
    messages = [user("a"), call, result, assistant("b")]
    kept = bounded("anthropic", None, messages, max_turns=3, max_bytes=10_000)
    assert kept is not None and kept.messages == []


def test_bounded_is_none_when_the_system_prompt_alone_is_too_big() -> None:
    assert bounded("anthropic", "s" * 600, [user("a")], max_turns=10, max_bytes=500) is None


def test_joined_openai_prefers_the_requests_own_system_prompt() -> None:
    stored = StoredConversation([{"role": "system", "content": "old"}], [user("a"), assistant("b")])
    plain = in_conversation("c")
    assert joined(plain, stored).body["messages"] == [
        {"role": "system", "content": "old"},
        user("a"),
        assistant("b"),
        user("c"),
    ]
    own = dataclasses.replace(
        plain, body={**plain.body, "messages": [{"role": "system", "content": "new"}, user("c")]}
    )
    assert joined(own, stored).body["messages"][0] == {"role": "system", "content": "new"}


def test_joined_anthropic_uses_the_stored_system_when_none_is_sent() -> None:
    stored = StoredConversation("be brief", [user("a"), assistant("b")])
    request = in_conversation("c", dialect="anthropic")
    sent = joined(request, stored)
    assert sent.body["system"] == "be brief"
    assert sent.body["messages"] == [user("a"), assistant("b"), user("c")]
    own = dataclasses.replace(request, body={**request.body, "system": "mine"})
    assert joined(own, stored).body["system"] == "mine"


def test_answer_message_of_each_dialect() -> None:
    tool_calls = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    openai_body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": tool_calls,
                }
            }
        ]
    }
    assert answer_message("openai", openai_body) == {
        "role": "assistant",
        "content": None,
        "tool_calls": tool_calls,
    }
    content = [{"type": "text", "text": "hi"}]
    assert answer_message("anthropic", {"content": content}) == {
        "role": "assistant",
        "content": content,
    }
    assert answer_message("openai", {"choices": []}) is None
    assert answer_message("anthropic", {"content": "text"}) is None


def test_keys_differ_by_tenant_dialect_and_id_and_are_bounded() -> None:
    keys = {
        conversation_key("t1", "openai", "c"),
        conversation_key("t2", "openai", "c"),
        conversation_key("t1", "anthropic", "c"),
        conversation_key("t1", "openai", "d"),
        conversation_key(None, "openai", "c"),
    }
    assert len(keys) == 5
    assert all(len(k) == len("conversation:") + 64 for k in keys)


def test_decode_refuses_what_is_not_a_conversation() -> None:
    assert StoredConversation.decode(b"not json") is None
    assert StoredConversation.decode(b'{"messages": 3}') is None
    stored = StoredConversation("s", [user("a")])
    assert StoredConversation.decode(stored.encode()) == stored


# -- the stage ----------------------------------------------------------------------------


async def test_the_stage_joins_and_stores_each_turn() -> None:
    store = MemoryCache()
    upstream = FakeUpstream(lambda r: reply(r, "answer"))
    handle = ConversationStage(store, SETTINGS)(upstream)
    first = await handle(in_conversation("q1"))
    assert first.headers[HEADER] == "0 stored messages before this turn"
    second = await handle(in_conversation("q2"))
    assert second.headers[HEADER] == "2 stored messages before this turn"
    assert upstream.requests[1].body["messages"] == [
        user("q1"),
        {"role": "assistant", "content": "answer"},
        user("q2"),
    ]
    other = await handle(in_conversation("q", tenant="t2"))
    assert other.headers[HEADER] == "0 stored messages before this turn"


async def test_the_stage_keeps_the_turn_bound() -> None:
    store = MemoryCache()
    chosen = HistorySettings(enabled=True, conversation_max_turns=4)
    upstream = FakeUpstream()
    handle = ConversationStage(store, chosen)(upstream)
    for n in range(5):
        await handle(in_conversation(f"q{n}"))
    assert len(upstream.requests[-1].body["messages"]) == 5  # 4 stored + the new one
    raw = await store.get(conversation_key("t1", "openai", "c1"))
    assert raw is not None
    stored = StoredConversation.decode(raw)
    assert stored is not None and [m["content"] for m in stored.messages[::2]] == ["q3", "q4"]


async def test_a_library_id_is_checked_like_the_header() -> None:
    handle = ConversationStage(MemoryCache(), SETTINGS)(FakeUpstream())
    with pytest.raises(BadRequest, match="x-thrifty-conversation"):
        await handle(in_conversation("q", "z" * 129))


async def test_an_error_answer_stores_nothing() -> None:
    store = MemoryCache()
    handle = ConversationStage(store, SETTINGS)(
        FakeUpstream(lambda r: reply(r, failure="upstream"))
    )
    await handle(in_conversation("q"))
    assert await store.get(conversation_key("t1", "openai", "c1")) is None


async def test_a_complete_stream_is_stored_and_a_cut_one_is_not() -> None:
    store = MemoryCache()
    key = conversation_key("t1", "anthropic", "c1")
    cut = ConversationStage(store, SETTINGS)(
        FakeUpstream(lambda r: stream_reply(r, ("a", "b"), fail_after=2))
    )
    response = await cut(in_conversation("q", dialect="anthropic", stream=True))
    with pytest.raises(Exception, match="cut the stream"):
        await collect(response)
    assert await store.get(key) is None
    whole = ConversationStage(store, SETTINGS)(FakeUpstream(lambda r: stream_reply(r, ("a", "b"))))
    await collect(await whole(in_conversation("q", dialect="anthropic", stream=True)))
    raw = await store.get(key)
    assert raw is not None
    stored = StoredConversation.decode(raw)
    assert stored is not None
    assert stored.messages[-1] == {"role": "assistant", "content": [{"type": "text", "text": "ab"}]}


class BrokenStore(MemoryCache):
    def __init__(self, *, reads: bool, writes: bool) -> None:
        super().__init__()
        self._reads, self._writes = reads, writes

    async def get(self, key: str) -> bytes | None:
        if not self._reads:
            raise OSError("disk gone")
        return await super().get(key)

    async def set(self, key: str, value: bytes, **kw: Any) -> None:
        if not self._writes:
            raise OSError("disk gone")
        await super().set(key, value, **kw)


async def test_a_read_outage_sends_the_request_as_it_came() -> None:
    upstream = FakeUpstream()
    handle = ConversationStage(BrokenStore(reads=False, writes=True), SETTINGS)(upstream)
    request = in_conversation("q")
    response = await handle(request)
    assert upstream.requests == [request]
    assert response.headers[WARNING_HEADER] == "store unavailable: sent without stored turns"


async def test_a_write_outage_answers_with_a_warning() -> None:
    handle = ConversationStage(BrokenStore(reads=True, writes=False), SETTINGS)(FakeUpstream())
    response = await handle(in_conversation("q"))
    assert response.body is not None and response.failure is None
    assert response.headers[WARNING_HEADER] == "store unavailable: turn not stored"


async def test_a_corrupt_entry_starts_the_conversation_anew() -> None:
    store = MemoryCache()
    await store.set(conversation_key("t1", "openai", "c1"), b"garbage")
    upstream = FakeUpstream()
    handle = ConversationStage(store, SETTINGS)(upstream)
    response = await handle(in_conversation("q"))
    assert response.headers[HEADER] == "0 stored messages before this turn"
    again = await handle(in_conversation("q2"))
    assert again.headers[HEADER] == "2 stored messages before this turn"


async def test_the_entry_expires_after_the_ttl() -> None:
    now = [1000.0]
    store = MemoryCache(clock=lambda: now[0])
    handle = ConversationStage(store, SETTINGS)(FakeUpstream())
    await handle(in_conversation("q"))
    now[0] += 61
    response = await handle(in_conversation("q2"))
    assert response.headers[HEADER] == "0 stored messages before this turn"


async def test_requests_without_an_id_pass_untouched() -> None:
    store = MemoryCache()
    upstream = FakeUpstream()
    request = request_for("gpt-4o", "q")
    response = await ConversationStage(store, SETTINGS)(upstream)(request)
    assert upstream.requests == [request]
    assert HEADER not in response.headers
    assert (await store.stats()).entries == 0


@pytest.mark.parametrize("limit", range(20, 200, 7))
def test_bounded_sizes_match_the_encoded_value(limit: int) -> None:
    messages = [user("é" * 5), assistant("b" * 9), user("c"), assistant(""), user("dd")]
    kept = bounded("openai", [{"role": "system", "content": "s"}], messages, 10, limit)
    fitting = [
        StoredConversation([{"role": "system", "content": "s"}], messages[i:]) for i in (0, 2, 4, 5)
    ]
    expected = next((c for c in fitting if len(c.encode()) <= limit), None)
    assert kept == expected
