"""A malformed conversation passes the planner unchanged, with a header that says why:
no breakpoint (Anthropic), no ``prompt_cache_key`` and no moved date (OpenAI), however
often its prefix comes back.  The same rule as compression's, so the stages agree on what
is malformed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.levers.fewer_tokens.prompt_cache_kit import (
    SYSTEM,
    anthropic_request,
    breakpoints,
    openai_request,
    stage_for,
)
from thrifty.levers.fewer_tokens.prompt_cache.stage import HEADER, WARNING_HEADER
from thrifty.testing import FakeUpstream
from thrifty.types import ChatRequest

ORPHAN = {"type": "tool_result", "tool_use_id": "t9", "content": "x"}
HUGE = "word " * 900_000  # ~900,000 tokens by the estimate: past any model's window

ANTHROPIC_CASES: dict[str, tuple[list[Any], str]] = {
    "orphan result": (
        [{"role": "user", "content": [ORPHAN]}],
        "message 1 has a tool result without its call",
    ),
    "empty turn": (
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": ""},
        ],
        "message 3 is empty",
    ),
    "oversized": ([{"role": "user", "content": HUGE}], "message 1 is oversized"),
}


@pytest.mark.parametrize("case", sorted(ANTHROPIC_CASES))
async def test_anthropic_malformed_passes_unchanged(case: str) -> None:
    messages, why = ANTHROPIC_CASES[case]
    upstream = FakeUpstream()
    handler = stage_for(upstream, first_sight=True)
    good = await handler(anthropic_request(at=0.0))
    assert breakpoints(upstream.requests[-1].body)  # a well-formed one is planned
    assert HEADER in good.headers and WARNING_HEADER not in good.headers
    for at in (10.0, 20.0, 30.0):  # the same prefix, back and back: still untouched
        request = anthropic_request(messages=messages, at=at)
        response = await handler(request)
        assert upstream.requests[-1] is request
        assert response.headers[HEADER] == "skipped-malformed"
        assert response.headers[WARNING_HEADER].startswith(
            f"malformed conversation, passed through unchanged: {why}"
        )
        assert response.steps == []


def openai_with(messages: list[Any]) -> ChatRequest:
    request = openai_request(system=f"Current date: 2026-11-30\n{SYSTEM}")
    body = {**request.body, "messages": [request.body["messages"][0], *messages]}
    return ChatRequest(
        dialect="openai", body=body, model="gpt-4o", requested_model="gpt-4o", received_at=5.0
    )


@pytest.mark.parametrize(
    ("messages", "why"),
    [
        ([{"role": "tool", "tool_call_id": "c1", "content": "42"}], "has a tool result"),
        ([{"role": "user", "content": ""}], "message 2 is empty"),
        ([{"role": "user", "content": HUGE}], "message 2 is oversized"),
    ],
)
async def test_openai_malformed_passes_unchanged(messages: list[Any], why: str) -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream)
    planned = openai_with([{"role": "user", "content": "hi"}])
    await handler(planned)
    assert "prompt_cache_key" in upstream.requests[-1].body  # a well-formed one is planned
    request = openai_with(messages)
    response = await handler(request)
    assert upstream.requests[-1] is request
    assert response.headers[HEADER] == "skipped-malformed"
    assert why in response.headers[WARNING_HEADER]


async def test_a_tool_result_after_its_call_is_planned() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    upstream = FakeUpstream()
    response = await stage_for(upstream)(openai_with(messages))
    assert response.headers[HEADER] == "planned"
    assert "prompt_cache_key" in upstream.requests[-1].body
