"""The planner on Anthropic requests: where breakpoints go, which lifetime, what it
leaves alone, and what it books."""

from __future__ import annotations

from typing import Any

import pytest

from tests.levers.fewer_tokens.prompt_cache_kit import (
    SYSTEM,
    anthropic_request,
    breakpoints,
    long_text,
    stage_for,
    tool,
)
from thrifty.config import PromptCacheSettings
from thrifty.testing import FakeUpstream, collect, reply, stream_reply
from thrifty.types import ChatRequest, TokenChange, Usage

MIN = 60.0


async def send(handler: Any, request: ChatRequest) -> tuple[ChatRequest, Any]:
    upstream_requests = handler.upstream.requests
    response = await handler(request)
    return upstream_requests[-1], response


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


def planned(upstream: FakeUpstream, **settings: Any) -> Any:
    handler = stage_for(upstream, **settings)
    handler.upstream = upstream  # type: ignore[attr-defined]
    return handler


async def test_a_prefix_seen_once_is_not_cached(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    request = anthropic_request()
    sent, response = await send(handler, request)
    assert sent is request  # untouched: zero-copy pass-through
    assert response.steps == [] and "prompt-cache" not in response.headers


async def test_a_prefix_back_within_five_minutes_gets_a_5m_breakpoint(
    upstream: FakeUpstream,
) -> None:
    handler = planned(upstream)
    await send(handler, anthropic_request(at=0))
    sent, response = await send(handler, anthropic_request(at=2 * MIN))
    assert breakpoints(sent.body) == [("system0", "5m")]
    assert sent.body["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert response.headers["prompt-cache"] == "planned"
    assert response.steps[0].lever == "prompt_cache"
    assert response.steps[0].detail == "prompt cache: system 5m"


async def test_first_sight_caches_at_once_when_asked(upstream: FakeUpstream) -> None:
    handler = planned(upstream, first_sight=True)
    sent, _ = await send(handler, anthropic_request())
    assert breakpoints(sent.body) == [("system0", "5m")]


async def test_hourly_reuse_gets_1h_once_it_has_come_back_twice(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    ttls = []
    for n in range(5):
        sent, _ = await send(handler, anthropic_request(at=n * 20 * MIN))
        ttls.append(breakpoints(sent.body))
    # seen once, twice (no 1h yet: it must pay twice), then 1h, then the live 1h entry
    assert ttls == [[], [], [("system0", "1h")], [("system0", "1h")], [("system0", "1h")]]


async def test_a_live_entry_keeps_its_breakpoint_after_a_pause(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    for n in range(3):
        await send(handler, anthropic_request(at=n * 20 * MIN))  # 1h written at 40 min
    sent, _ = await send(handler, anthropic_request(at=95 * MIN))  # 55 min later: alive
    assert breakpoints(sent.body) == [("system0", "1h")]


async def test_reuse_rarer_than_an_hour_is_never_cached(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    found = []
    for n in range(4):
        sent, _ = await send(handler, anthropic_request(at=n * 90 * MIN))
        found += breakpoints(sent.body)
    assert found == []


async def test_1h_can_be_turned_off(upstream: FakeUpstream) -> None:
    handler = planned(upstream, allow_1h=False)
    found = []
    for n in range(4):
        sent, _ = await send(handler, anthropic_request(at=n * 20 * MIN))
        found += breakpoints(sent.body)
    assert found == []


async def test_a_prefix_below_the_minimum_gets_no_breakpoint(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    short = long_text(300)  # ~400 tokens
    for at in (0.0, 10.0, 20.0):
        sent, _ = await send(handler, anthropic_request(system=short, at=at))
        assert breakpoints(sent.body) == []


async def test_haiku_45_needs_4096_tokens(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    for at in (0.0, 10.0):  # ~3k tokens: enough for Sonnet, not for Haiku 4.5
        sent, _ = await send(handler, anthropic_request(model="claude-haiku-4-5", at=at))
    assert breakpoints(sent.body) == []
    bigger = long_text(4_000)
    for at in (20.0, 30.0):
        sent, _ = await send(
            handler, anthropic_request(model="claude-haiku-4-5", system=bigger, at=at)
        )
    assert breakpoints(sent.body) == [("system0", "5m")]


async def test_the_app_own_breakpoints_are_respected(upstream: FakeUpstream) -> None:
    handler = planned(upstream, first_sight=True)
    own = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    for request in (
        anthropic_request(system=own),
        anthropic_request(cache_control={"type": "ephemeral"}),  # automatic caching
        anthropic_request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
                    ],
                }
            ]
        ),
        anthropic_request(tools=[{**tool("a"), "cache_control": {"type": "ephemeral"}}]),
    ):
        sent, response = await send(handler, request)
        assert sent is request
        assert response.headers["prompt-cache"] == "app" and response.steps == []


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": None}],
        [{"role": "user", "content": []}],
        [{"role": "system", "content": "x"}],
        ["not an object"],
        [],
    ],
)
async def test_an_unreadable_body_passes_untouched_with_a_warning(
    upstream: FakeUpstream, messages: list[Any]
) -> None:
    handler = planned(upstream, first_sight=True)
    request = anthropic_request()
    request.body["messages"] = messages
    sent, response = await send(handler, request)
    assert sent is request
    assert response.headers["prompt-cache"] == "skipped-unreadable"


async def test_tools_system_examples_and_conversation(upstream: FakeUpstream) -> None:
    tools = [tool(f"tool_{i}", words=150) for i in range(8)]  # ~1.6k tokens of tools
    examples = [
        {"role": "user", "content": long_text(900, seed=1)},
        {"role": "assistant", "content": long_text(900, seed=2)},
    ]
    handler = planned(upstream)
    first = [*examples, {"role": "user", "content": "first question"}]
    await send(handler, anthropic_request(tools=tools, messages=first, at=0))
    sent, response = await send(handler, anthropic_request(tools=tools, messages=first, at=30))
    # the examples came back: cached, and so are the tools and the system prompt
    assert breakpoints(sent.body) == [("tool7", "5m"), ("system0", "5m"), ("message1.0", "5m")]
    assert response.steps[0].detail == "prompt cache: tools 5m, system 5m, examples 5m"
    turn = [
        *first,
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "more"},
    ]
    sent, response = await send(handler, anthropic_request(tools=tools, messages=turn, at=60))
    # the conversation goes on (the previous prompt is this one's prefix): the whole prompt
    # is cached for the next turn; this one reads the examples' entry through the lookback
    assert breakpoints(sent.body) == [("tool7", "5m"), ("system0", "5m"), ("message4.0", "5m")]
    assert response.steps[0].detail == "prompt cache: tools 5m, system 5m, conversation 5m"
    # unchanged messages are written back as the very same objects
    assert all(a is b for a, b in zip(sent.body["messages"][:4], turn[:4], strict=True))
    assert sent.body["messages"][4] == {
        "role": "user",
        "content": [{"type": "text", "text": "more", "cache_control": {"type": "ephemeral"}}],
    }


async def test_a_later_1h_breakpoint_raises_earlier_ones_to_1h(upstream: FakeUpstream) -> None:
    shared_tools = [tool(f"t{i}", words=150) for i in range(8)]
    handler = planned(upstream)
    # the tools come back every minute (with other system prompts), the system every 20 min
    at = 0.0
    for n in range(3):
        await send(handler, anthropic_request(tools=shared_tools, at=at))
        for k in range(1, 20):
            other = long_text(50, seed=100 + n * 20 + k)
            await send(
                handler, anthropic_request(tools=shared_tools, system=other, at=at + k * MIN)
            )
        at += 20 * MIN
    sent, _ = await send(handler, anthropic_request(tools=shared_tools, at=at))
    assert breakpoints(sent.body) == [("tool7", "1h"), ("system0", "1h")]


async def test_a_date_line_moves_after_the_breakpoint(upstream: FakeUpstream) -> None:
    handler = planned(upstream)
    for day, at in (("2026-11-29", 0.0), ("2026-11-30", 60.0)):
        system = f"Current date: {day}\n{SYSTEM}"
        sent, response = await send(handler, anthropic_request(system=system, at=at))
    assert sent.body["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Current date: 2026-11-30"},
    ]
    assert "date moved after the stable prompt" in response.steps[0].detail


async def test_moving_dates_can_be_turned_off(upstream: FakeUpstream) -> None:
    handler = planned(upstream, move_volatile_lines=False)
    for day, at in (("2026-11-29", 0.0), ("2026-11-30", 60.0)):
        sent, _ = await send(handler, anthropic_request(system=f"Today: {day}\n{SYSTEM}", at=at))
    assert breakpoints(sent.body) == []  # the prefix changed: nothing to cache


async def test_a_prefix_that_changes_every_time_is_flagged(upstream: FakeUpstream) -> None:
    handler = planned(upstream, unstable_window=3)
    headers = []
    for n in range(4):
        _, response = await send(handler, anthropic_request(system=f"{n}\n{SYSTEM}", at=n))
        headers.append(response.headers.get("prompt-cache"))
    assert headers == [None, None, "unstable-prefix", "unstable-prefix"]
    assert "unstable-prefix" in response.steps[0].detail


async def test_per_task_settings(upstream: FakeUpstream) -> None:
    handler = stage_for(
        upstream,
        {
            None: PromptCacheSettings(enabled=False),
            "support": PromptCacheSettings(enabled=True, first_sight=True),
        },
    )
    off = anthropic_request(task="other")
    await handler(off)
    assert upstream.requests[-1] is off
    await handler(anthropic_request(task="support"))
    assert breakpoints(upstream.requests[-1].body) == [("system0", "5m")]


def cached_reply(request: ChatRequest) -> Any:
    usage = Usage(input_tokens=3_200, output_tokens=20, cache_read_tokens=3_000)
    return reply(request, "ok", usage)


async def test_the_cache_counts_are_booked_as_the_planners_token_change() -> None:
    upstream = FakeUpstream(cached_reply)
    handler = stage_for(upstream, first_sight=True)
    response = await handler(anthropic_request())
    assert response.steps[0].tokens == TokenChange(cache_read_tokens=3_000)


async def test_a_streamed_answer_is_booked_when_it_completes() -> None:
    usage = Usage(input_tokens=3_200, output_tokens=2, cache_write_1h_tokens=3_000)
    upstream = FakeUpstream(lambda req: stream_reply(req, ["o", "k"], usage))
    handler = stage_for(upstream, first_sight=True)
    response = await handler(anthropic_request(stream=True))
    step = response.steps[0]
    assert step.tokens is None  # not known before the end
    await collect(response)
    assert step.tokens == TokenChange(cache_write_1h_tokens=3_000)


async def test_a_call_with_no_cache_activity_books_no_change() -> None:
    upstream = FakeUpstream(
        lambda req: reply(req, "ok", Usage(input_tokens=3_000, output_tokens=2))
    )
    handler = stage_for(upstream, first_sight=True)
    response = await handler(anthropic_request())
    assert response.steps[0].tokens is None
