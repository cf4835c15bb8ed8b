"""Translated responses and streams, checked by the official SDKs' own models and
stream accumulators (what an app would actually run)."""

from __future__ import annotations

from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from thrifty.dialects import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    anthropic_to_openai_response,
    openai_to_anthropic_response,
)
from thrifty.providers.usage import (
    AnthropicStreamUsage,
    OpenAIStreamUsage,
    usage_from_anthropic,
    usage_from_openai,
)
from thrifty.types import StreamEvent, Usage

ANTHROPIC_TOOL_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 472,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024,
        "output_tokens": 89,
    },
}

OPENAI_TOOL_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc123",
                        "type": "function",
                        "function": {
                            "name": "get_current_weather",
                            "arguments": '{\n"location": "Boston, MA"\n}',
                        },
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 1082,
        "completion_tokens": 17,
        "total_tokens": 1099,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


def test_anthropic_message_as_openai_completion() -> None:
    usage = usage_from_anthropic(ANTHROPIC_TOOL_MESSAGE["usage"])
    out = ChatCompletion.model_validate(anthropic_to_openai_response(ANTHROPIC_TOOL_MESSAGE, usage))
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert out.usage is not None
    # OpenAI convention: prompt_tokens includes the cached tokens.
    assert out.usage.prompt_tokens == 472 + 1024
    assert out.usage.prompt_tokens_details is not None
    assert out.usage.prompt_tokens_details.cached_tokens == 1024
    assert out.usage.completion_tokens == 89
    assert usage_from_openai(out.usage.model_dump()) == usage


def test_openai_completion_as_anthropic_message() -> None:
    usage = usage_from_openai(OPENAI_TOOL_COMPLETION["usage"])
    out = Message.model_validate(openai_to_anthropic_response(OPENAI_TOOL_COMPLETION, usage))
    assert out.stop_reason == "tool_use"
    assert out.id.startswith("msg_")
    block = out.content[0]
    assert block.type == "tool_use"
    assert block.input == {"location": "Boston, MA"}
    # Anthropic convention: input_tokens excludes cache reads.
    assert out.usage.input_tokens == 1082 - 1024
    assert out.usage.cache_read_input_tokens == 1024
    assert usage_from_anthropic(out.usage.model_dump()) == usage


def test_finish_reasons() -> None:
    for stop, finish in [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop")]:
        body = {**ANTHROPIC_TOOL_MESSAGE, "content": [], "stop_reason": stop}
        out = anthropic_to_openai_response(body, Usage())
        assert out["choices"][0]["finish_reason"] == finish
        assert out["choices"][0]["message"]["content"] == ""
    for finish, stop in [("stop", "end_turn"), ("length", "max_tokens")]:
        body = dict(OPENAI_TOOL_COMPLETION)
        body["choices"] = [{"index": 0, "message": {"content": "x"}, "finish_reason": finish}]
        assert openai_to_anthropic_response(body, Usage())["stop_reason"] == stop


ANTHROPIC_TOOL_STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 472,
                "cache_read_input_tokens": 2000,
                "cache_creation_input_tokens": 0,
                "output_tokens": 2,
            },
            "content": [],
            "stop_reason": None,
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Okay"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", let's"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "input": {},
        },
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"location":'},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": ' "San Francisco, CA"}'},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 89},
    },
    {"type": "message_stop"},
]


def run_anthropic_to_openai(include_usage: bool) -> tuple[list[StreamEvent], Usage]:
    acc = AnthropicStreamUsage()
    tr = AnthropicToOpenAIStream(model="claude-x", include_usage=include_usage)
    out: list[StreamEvent] = []
    for event in ANTHROPIC_TOOL_STREAM:
        acc.feed(event)
        out.extend(tr.feed(event, acc.usage))
    return out, acc.usage


def test_anthropic_stream_as_openai_chunks() -> None:
    events, usage = run_anthropic_to_openai(include_usage=True)
    assert events[-1].data is None and events[-1].raw == b"data: [DONE]\n\n"
    state = ChatCompletionStreamState()
    for event in events[:-1]:
        assert event.raw.startswith(b"data: {")
        state.handle_chunk(ChatCompletionChunk.model_validate(event.data))
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.message.content == "Okay, let's"
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert call.function.arguments == '{"location": "San Francisco, CA"}'
    assert final.usage is not None
    assert final.usage.prompt_tokens == 2472
    assert final.usage.completion_tokens == 89
    assert usage_from_openai(final.usage.model_dump()) == usage


def test_anthropic_stream_as_openai_without_usage_chunk() -> None:
    events, _ = run_anthropic_to_openai(include_usage=False)
    assert all(e.data is None or e.data["choices"] for e in events)


def openai_tool_stream() -> list[dict[str, Any] | None]:
    head = {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "usage": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    call = {"index": 0, "id": "call_1", "type": "function"}
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Checking"}),
        chunk({"tool_calls": [{**call, "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Rome"}'}}]}),
        chunk({}, "tool_calls"),
        {
            **head,
            "choices": [],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 20,
                "total_tokens": 1220,
                "prompt_tokens_details": {"cached_tokens": 1024},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
        None,
    ]


def test_openai_stream_as_anthropic_events() -> None:
    acc = OpenAIStreamUsage()
    tr = OpenAIToAnthropicStream(model="gpt-x")
    events: list[StreamEvent] = []
    for data in openai_tool_stream():
        if data is not None:
            acc.feed(data)
        events.extend(tr.feed(data, acc.usage))
    snapshot = None
    bufs: dict[int, bytes] = {}
    for event in events:
        assert event.data is not None and event.event == event.data["type"]
        assert event.raw.startswith(b"event: " + event.data["type"].encode() + b"\ndata: ")
        snapshot = accumulate_event(
            event=event.data,  # type: ignore[arg-type]
            current_snapshot=snapshot,
            json_bufs=bufs,
        )
    assert snapshot is not None
    assert [e.event for e in events][-2:] == ["message_delta", "message_stop"]
    assert snapshot.stop_reason == "tool_use"
    assert snapshot.content[0].type == "text" and snapshot.content[0].text == "Checking"
    tool = snapshot.content[1]
    assert tool.type == "tool_use" and tool.id == "call_1" and tool.input == {"city": "Rome"}
    assert snapshot.usage.input_tokens == 1200 - 1024
    assert snapshot.usage.cache_read_input_tokens == 1024
    assert snapshot.usage.output_tokens == 20
    assert usage_from_anthropic(snapshot.usage.model_dump()) == acc.usage


def test_openai_empty_stream_still_well_formed_for_anthropic() -> None:
    tr = OpenAIToAnthropicStream(model="gpt-x")
    events = tr.feed(None, Usage())
    assert [e.event for e in events] == ["message_start", "message_delta", "message_stop"]
