"""The official anthropic SDK against the simulator (in-process ASGI transport)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from thrifty.sim import count_tokens

from .conftest import FakeClock


def words(n: int, salt: str = "") -> str:
    return " ".join(f"w{salt}{i % 97}" for i in range(n))


def cached_block(text: str, ttl: str | None = None) -> dict[str, Any]:
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return {"type": "text", "text": text, "cache_control": control}


async def test_non_stream_shape_and_usage(ant: anthropic.AsyncAnthropic) -> None:
    msg = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.id.startswith("msg_")
    assert msg.stop_reason == "end_turn"
    block = msg.content[0]
    assert block.type == "text"
    assert block.text.startswith("Simulated reply ")
    assert msg.usage.output_tokens == count_tokens(block.text)
    assert msg.usage.input_tokens > 0
    assert msg.usage.cache_read_input_tokens == 0
    assert msg.usage.cache_creation_input_tokens == 0
    assert msg.usage.cache_creation is not None
    assert msg.usage.cache_creation.ephemeral_5m_input_tokens == 0


async def test_max_tokens_stop_reason(ant: anthropic.AsyncAnthropic) -> None:
    msg = await ant.messages.create(
        model="claude-haiku-4-5", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 4


async def test_stream_matches_non_stream(ant: anthropic.AsyncAnthropic) -> None:
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 300,
        "system": "be brief",
        "messages": [{"role": "user", "content": "stream it"}],
    }
    full = await ant.messages.create(**kwargs)
    async with ant.messages.stream(**kwargs) as stream:
        types = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert types[0] == "message_start"
    assert "content_block_start" in types and "content_block_stop" in types
    assert types[-1] == "message_stop"
    assert final.content[0].type == "text" and full.content[0].type == "text"
    assert final.content[0].text == full.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == full.usage.output_tokens
    assert final.usage.input_tokens == full.usage.input_tokens


async def test_raw_stream_event_order(http: httpx.AsyncClient) -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    resp = await http.post("/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    names = [e.split("\n")[0] for e in resp.text.split("\n\n") if e]
    assert names[:3] == ["event: message_start", "event: content_block_start", "event: ping"]
    assert set(names[3:-3]) == {"event: content_block_delta"}
    assert names[-3:] == [
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    assert '"output_tokens":1,' in resp.text.split("\n\n")[0]


@pytest.mark.parametrize("ttl", ["5m", "1h"])
async def test_cache_write_then_read_then_expiry(
    ant: anthropic.AsyncAnthropic, clock: FakeClock, ttl: str
) -> None:
    system = [cached_block(words(2000), ttl)]

    async def ask(question: str) -> anthropic.types.Usage:
        msg = await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": question}],
        )
        return msg.usage

    first = await ask("one")
    assert first.cache_creation_input_tokens == 2000
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    written = (
        first.cache_creation.ephemeral_1h_input_tokens
        if ttl == "1h"
        else first.cache_creation.ephemeral_5m_input_tokens
    )
    assert written == 2000
    assert 0 < first.input_tokens < 20  # input_tokens excludes cache writes

    clock.advance(200)
    second = await ask("two")
    assert second.cache_read_input_tokens == 2000
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens  # excludes cache reads

    lifetime = 300 if ttl == "5m" else 3600
    clock.advance(lifetime - 1)  # a read refreshes the TTL
    assert (await ask("three")).cache_read_input_tokens == 2000
    clock.advance(lifetime + 1)
    expired = await ask("four")
    assert expired.cache_read_input_tokens == 0
    assert expired.cache_creation_input_tokens == 2000


async def test_cache_below_minimum_and_multi_breakpoints(ant: anthropic.AsyncAnthropic) -> None:
    small = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=10,
        system=[cached_block(words(500))],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "q"}],
    )
    assert small.usage.cache_creation_input_tokens == 0

    tools: list[Any] = [
        {
            "name": "lookup",
            "description": words(1200, "t"),
            "input_schema": {"type": "object", "properties": {}},
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]

    async def turn(history: list[Any]) -> anthropic.types.Usage:
        msg = await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            tools=tools,
            messages=history,
        )
        return msg.usage

    history: list[Any] = [{"role": "user", "content": [cached_block(words(600, "a"))]}]
    u1 = await turn(history)
    assert u1.cache_creation is not None
    tool_tokens = u1.cache_creation.ephemeral_1h_input_tokens
    assert tool_tokens >= 1200
    assert u1.cache_creation.ephemeral_5m_input_tokens == 603  # 600 words + role framing
    # Next turn: breakpoint moves to the new last message; the old one is found by lookback.
    history = [
        {"role": "user", "content": [{"type": "text", "text": words(600, "a")}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [cached_block("next question")]},
    ]
    u2 = await turn(history)
    assert u2.cache_read_input_tokens == tool_tokens + 603
    assert u2.cache_creation_input_tokens == (3 + 1) + (3 + 3)  # "ok" msg + "next question" msg


async def test_too_many_breakpoints(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            system=[cached_block(f"s{i}") for i in range(5)],  # type: ignore[misc]
            messages=[{"role": "user", "content": "q"}],
        )
    assert "maximum of 4" in str(info.value)


async def test_bad_key_401(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.AuthenticationError) as info:
        await ant.with_options(api_key="sim-bad-key").messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 401
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{oops", "pars"),
        (b'{"model": "m", "max_tokens": 5}', "messages"),
        (b'{"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}', "max_tokens"),
    ],
)
async def test_bad_input_400(http: httpx.AsyncClient, content: bytes, needle: str) -> None:
    resp = await http.post(
        "/v1/messages", content=content, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    data = resp.json()
    assert data["type"] == "error"
    assert data["error"]["type"] == "invalid_request_error"
    assert needle in data["error"]["message"]


async def test_count_tokens(ant: anthropic.AsyncAnthropic) -> None:
    result = await ant.messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hello you"}]
    )
    msg = await ant.messages.create(
        model="claude-sonnet-4-6", max_tokens=5, messages=[{"role": "user", "content": "hello you"}]
    )
    assert result.input_tokens == msg.usage.input_tokens
