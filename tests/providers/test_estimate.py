"""Token estimates for calls the upstream never reported usage for."""

from __future__ import annotations

import math
from typing import Any

from thrifty.providers.estimate import estimate_output_tokens, estimate_prompt_tokens
from thrifty.providers.sse import SSEParser
from thrifty.types import StreamEvent

from .wire_payloads import (
    ANTHROPIC_WEB_SEARCH_STREAM,
    OPENAI_STREAM_CHUNKS,
    anthropic_sse,
    openai_chunk,
    openai_sse,
)


def events(raw: bytes) -> list[StreamEvent]:
    return SSEParser().feed(raw)


def tally(found: list[StreamEvent]) -> int:
    """What a stream handler computes from the deltas it let pass."""
    previous = found[-2] if len(found) > 1 else None
    return estimate_output_tokens(len(found), sum(len(e.raw) for e in found), found[-1], previous)


def test_prompt_is_a_quarter_token_per_character_plus_chat_framing() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}
    assert estimate_prompt_tokens(body) == 100 + 3 + 3
    two = {
        "messages": [
            {"role": "system", "content": "a" * 8},
            {"role": "user", "content": [{"type": "text", "text": "b" * 9}]},
        ]
    }
    assert estimate_prompt_tokens(two) == math.ceil(17 / 4) + 2 * 3 + 3


def test_prompt_counts_anthropic_system_tools_and_tool_traffic() -> None:
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    body: dict[str, Any] = {
        "system": [{"type": "text", "text": "s" * 40}],
        "tools": tools,
        "messages": [
            {"role": "user", "content": "q" * 40},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r" * 40}],
            },
            {"role": "user", "content": [{"type": "image", "source": {"data": "x" * 9999}}]},
        ],
    }
    plain = estimate_prompt_tokens({"messages": body["messages"]})
    full = estimate_prompt_tokens(body)
    assert full > plain  # system prompt and tool definitions count
    # The image's base64 is not text: it adds only its message's framing.
    without_image = estimate_prompt_tokens({**body, "messages": body["messages"][:3]})
    assert full == without_image + 3


def test_prompt_counts_openai_tool_calls() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "a" * 79}}
    body = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    assert estimate_prompt_tokens(body) == 20 + 3 + 3


def test_empty_or_odd_bodies_do_not_fail() -> None:
    assert estimate_prompt_tokens({}) == 3
    assert estimate_prompt_tokens({"messages": "nope", "system": 5}) == 3 + 3


def test_openai_deltas_count_one_token_each_at_least() -> None:
    deltas = events(openai_sse(OPENAI_STREAM_CHUNKS[1:3]))  # "Hello", "!"
    assert tally(deltas) == 2


def test_openai_long_deltas_count_a_token_per_four_characters() -> None:
    chunks = [openai_chunk({"content": "y" * 400}) for _ in range(3)]
    assert tally(events(openai_sse(chunks))) == 300


def test_openai_closing_chunk_is_not_a_content_delta() -> None:
    deltas = events(openai_sse(OPENAI_STREAM_CHUNKS[1:4]))  # "Hello", "!", finish chunk
    assert tally(deltas) == 2


def test_openai_tool_call_arguments_count() -> None:
    call = {"index": 0, "function": {"arguments": "z" * 200}}
    chunks = [openai_chunk({"tool_calls": [call]}) for _ in range(2)]
    assert tally(events(openai_sse(chunks))) == 100


def test_anthropic_deltas_count_their_text() -> None:
    found = [
        e
        for e in events(anthropic_sse(ANTHROPIC_WEB_SEARCH_STREAM))
        if e.event == "content_block_delta"
    ]
    texts = [
        "I'll check the current weather in Paris.",
        '{"query": "weather Paris today"}',
        "It is sunny in Paris today, around 21 degrees.",
    ]
    estimate = tally(found)
    # Text and JSON deltas differ a little in framing, and JSON text is escaped in the
    # raw bytes: the estimate lands within 20% of chars/4 (30 here).
    exact = math.ceil(sum(map(len, texts)) / 4)
    assert exact * 0.8 <= estimate <= exact * 1.2
    assert estimate >= len(found)


def test_a_closing_chunk_alone_is_zero() -> None:
    closing = events(openai_sse(OPENAI_STREAM_CHUNKS[3:4]))
    assert tally(closing) == 0


def test_nothing_seen_is_zero() -> None:
    assert estimate_output_tokens(0, 0, None) == 0
