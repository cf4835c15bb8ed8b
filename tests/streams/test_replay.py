"""replay(): a stored answer served again in the app's dialect, streamed or not.  The
streams are checked event by event against the wire format, and parsed by the official
SDKs (over an in-memory httpx2 transport, which these SDK releases are built on: nothing
leaves the process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from thrifty.providers.sse import SSEParser
from thrifty.streams import observe, replay
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

USAGE = Usage(
    input_tokens=1200,
    output_tokens=80,
    cache_read_tokens=1000,
    cache_write_5m_tokens=100,
    reasoning_tokens=0,
)

OPENAI_TEXT: JSON = {
    "id": "chatcmpl-stored1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there.", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
}

OPENAI_TOOLS: JSON = {
    "id": "chatcmpl-stored2",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking both.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "time", "arguments": '{"tz": "CET"}'},
                    },
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ],
}

ANTHROPIC_TOOLS: JSON = {
    "id": "msg_stored3",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig123"},
        {"type": "text", "text": "Let me look."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "weather",
            "input": {"city": "Paris", "days": [1, 2]},
        },
        {"type": "tool_use", "id": "toolu_2", "name": "noop", "input": {}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 100, "output_tokens": 80},
}

ANTHROPIC_TEXT: JSON = {
    "id": "msg_stored4",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Bonjour."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 100, "output_tokens": 80},
}


def request(dialect: Dialect, *, stream: bool, include_usage: bool = False) -> ChatRequest:
    body: JSON = {"model": "the-model", "stream": stream}
    if dialect == "openai":
        body["messages"] = [{"role": "user", "content": "hi"}]
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
        body["max_tokens"] = 100
    return ChatRequest(
        dialect=dialect, body=body, model="the-model", requested_model="the-model", stream=stream
    )


async def collect(response: ChatResponse) -> list[Sequence[StreamEvent]]:
    assert response.stream is not None
    return [got async for got in response.stream]


async def replayed_bytes(response: ChatResponse) -> bytes:
    return b"".join(e.raw for got in await collect(response) for e in got)


def check_wire(raw: bytes, dialect: Dialect) -> list[JSON | None]:
    """Every event exactly as the dialect writes it; returns the payloads."""
    events = SSEParser().feed(raw)
    assert b"".join(e.raw for e in events) == raw  # nothing dropped, nothing extra
    payloads: list[JSON | None] = []
    for event in events:
        data = event.data
        if dialect == "openai":
            assert event.event is None
            if data is None:
                assert event.raw == b"data: [DONE]\n\n"
            else:
                assert event.raw == b"data: " + orjson.dumps(data) + b"\n\n"
        else:
            assert data is not None and event.event == data["type"]
            assert (
                event.raw
                == f"event: {data['type']}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"
            )
        payloads.append(data)
    return payloads


def sse_transport(raw: bytes, seen: list[httpx2.Request]) -> httpx2.MockTransport:
    """Answers every request with ``raw`` as an event stream, in memory."""

    def handler(req: httpx2.Request) -> httpx2.Response:
        seen.append(req)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    return httpx2.MockTransport(handler)


async def openai_parse(raw: bytes, *, include_usage: bool) -> tuple[list[Any], Any]:
    """(raw chunks, final completion) as the openai SDK reads them."""
    seen: list[httpx2.Request] = []
    async with (
        httpx2.AsyncClient(transport=sse_transport(raw, seen)) as http,
        openai.AsyncOpenAI(
            api_key="k", base_url="http://127.0.0.1:9/v1", http_client=http, max_retries=0
        ) as sdk,
    ):
        options: Any = {"include_usage": True} if include_usage else openai.NOT_GIVEN
        chunks = [
            chunk
            async for chunk in await sdk.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options=options,
            )
        ]
        async with sdk.chat.completions.stream(
            model="m", messages=[{"role": "user", "content": "hi"}], stream_options=options
        ) as stream:
            final = await stream.get_final_completion()
    assert len(seen) == 2
    return chunks, final


async def anthropic_parse(raw: bytes) -> Any:
    seen: list[httpx2.Request] = []
    async with (
        httpx2.AsyncClient(transport=sse_transport(raw, seen)) as http,
        anthropic.AsyncAnthropic(
            api_key="k", base_url="http://127.0.0.1:9", http_client=http, max_retries=0
        ) as sdk,
        sdk.messages.stream(
            model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        message = await stream.get_final_message()
    assert len(seen) == 1
    return message


# -- OpenAI apps -------------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False])
async def test_openai_text_stream_with_and_without_usage_chunk(include_usage: bool) -> None:
    response = replay(
        request("openai", stream=True, include_usage=include_usage),
        OPENAI_TEXT,
        dialect="openai",
        usage=USAGE,
    )
    assert response.served is None and response.body is None
    assert (response.model, response.usage, response.usage_reported) == (
        "gpt-4o-2024-08-06",
        USAGE,
        True,
    )
    assert not response.stream_complete
    [only] = await collect(response)  # one batch: everything is known at once
    assert response.stream_complete
    raw = b"".join(e.raw for e in only)
    payloads = check_wire(raw, "openai")
    assert payloads[-1] is None  # [DONE]
    chunks = [p for p in payloads if p is not None]
    for chunk in chunks:
        assert chunk["id"] == "chatcmpl-stored1" and chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "gpt-4o-2024-08-06" and chunk["created"] == 1_700_000_000
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "Hello there."}, {}]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]] == [
        None,
        None,
        "stop",
    ]
    usage_chunks = [c for c in chunks if "usage" in c]
    if include_usage:
        [usage_chunk] = usage_chunks
        assert usage_chunk is chunks[-1] and usage_chunk["choices"] == []
        assert usage_chunk["usage"]["prompt_tokens"] == 1200
        assert usage_chunk["usage"]["completion_tokens"] == 80
        assert usage_chunk["usage"]["prompt_tokens_details"] == {"cached_tokens": 1000}
    else:
        assert usage_chunks == []

    sdk_chunks, final = await openai_parse(raw, include_usage=include_usage)
    assert len(sdk_chunks) == len(chunks)
    assert final.id == "chatcmpl-stored1"
    assert final.choices[0].message.content == "Hello there."
    assert final.choices[0].finish_reason == "stop"
    if include_usage:
        assert final.usage.prompt_tokens == 1200 and final.usage.completion_tokens == 80
        assert final.usage.total_tokens == 1280
    else:
        assert final.usage is None


async def test_openai_tool_calls_round_trip_through_the_sdk() -> None:
    response = replay(
        request("openai", stream=True, include_usage=True),
        OPENAI_TOOLS,
        dialect="openai",
        usage=USAGE,
    )
    raw = await replayed_bytes(response)
    payloads = check_wire(raw, "openai")
    calls = [
        call
        for p in payloads
        if p is not None and p["choices"]
        for call in p["choices"][0]["delta"].get("tool_calls", ())
    ]
    assert calls[0] == {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    assert calls[1] == {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}
    _, final = await openai_parse(raw, include_usage=True)
    message = final.choices[0].message
    assert message.content == "Checking both."
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_a", "weather", '{"city": "Paris"}'),
        ("call_b", "time", '{"tz": "CET"}'),
    ]


async def test_anthropic_answer_replayed_to_an_openai_app() -> None:
    response = replay(
        request("openai", stream=True, include_usage=True),
        ANTHROPIC_TOOLS,
        dialect="anthropic",
        usage=USAGE,
    )
    assert response.dialect == "openai" and response.model == "claude-sonnet-4-5-20250929"
    raw = await replayed_bytes(response)
    check_wire(raw, "openai")
    _, final = await openai_parse(raw, include_usage=True)
    message = final.choices[0].message
    assert message.content == "Let me look."  # thinking has no OpenAI counterpart
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name) for c in message.tool_calls] == [
        ("toolu_1", "weather"),
        ("toolu_2", "noop"),
    ]
    assert orjson.loads(message.tool_calls[0].function.arguments) == {
        "city": "Paris",
        "days": [1, 2],
    }
    assert final.usage.prompt_tokens == USAGE.input_tokens


# -- Anthropic apps ----------------------------------------------------------------------


async def test_anthropic_tools_and_thinking_round_trip_through_the_sdk() -> None:
    response = replay(
        request("anthropic", stream=True), ANTHROPIC_TOOLS, dialect="anthropic", usage=USAGE
    )
    [only] = await collect(response)
    assert response.stream_complete
    raw = b"".join(e.raw for e in only)
    payloads = check_wire(raw, "anthropic")
    kinds = [p["type"] for p in payloads if p is not None]
    assert kinds == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_delta"],
        "content_block_stop",
        *["content_block_start", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_stop"],  # a tool with no input: no delta
        "message_delta",
        "message_stop",
    ]
    start = payloads[0]
    assert start is not None
    assert start["message"]["usage"]["output_tokens"] == 0
    assert start["message"]["usage"]["input_tokens"] == USAGE.uncached_input_tokens

    message = await anthropic_parse(raw)
    assert message.id == "msg_stored3" and message.model == "claude-sonnet-4-5-20250929"
    assert message.stop_reason == "tool_use"
    assert [b.to_dict() for b in message.content] == ANTHROPIC_TOOLS["content"]
    assert message.usage.input_tokens == USAGE.uncached_input_tokens  # 100
    assert message.usage.cache_read_input_tokens == 1000
    assert message.usage.cache_creation_input_tokens == 100
    assert message.usage.output_tokens == 80


async def test_anthropic_text_with_citations_round_trips() -> None:
    citation = {
        "type": "char_location",
        "cited_text": "Paris is the capital.",
        "document_index": 0,
        "document_title": "Atlas",
        "start_char_index": 0,
        "end_char_index": 21,
        "file_id": None,
    }
    body = {
        **ANTHROPIC_TEXT,
        "content": [{"type": "text", "text": "It is Paris.", "citations": [citation]}],
    }
    response = replay(request("anthropic", stream=True), body, dialect="anthropic", usage=USAGE)
    raw = await replayed_bytes(response)
    check_wire(raw, "anthropic")
    message = await anthropic_parse(raw)
    [block] = message.content
    assert block.text == "It is Paris."
    assert [c.to_dict() for c in block.citations] == [citation]


async def test_openai_answer_replayed_to_an_anthropic_app() -> None:
    response = replay(
        request("anthropic", stream=True), OPENAI_TOOLS, dialect="openai", usage=USAGE
    )
    assert response.dialect == "anthropic"
    raw = await replayed_bytes(response)
    check_wire(raw, "anthropic")
    message = await anthropic_parse(raw)
    assert message.id == "msg_stored2" and message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Checking both."
    assert (message.content[1].id, message.content[1].name, message.content[1].input) == (
        "call_a",
        "weather",
        {"city": "Paris"},
    )
    assert message.content[2].input == {"tz": "CET"}
    assert message.usage.output_tokens == 80


# -- not streamed ------------------------------------------------------------------------


async def test_non_stream_same_dialect_returns_the_body_as_is() -> None:
    response = replay(request("openai", stream=False), OPENAI_TEXT, dialect="openai", usage=USAGE)
    assert response.body is OPENAI_TEXT and response.stream is None
    assert response.usage == USAGE and response.served is None
    assert response.provider == "replay"


@pytest.mark.parametrize(
    ("app", "stored", "body"),
    [("anthropic", "openai", OPENAI_TOOLS), ("openai", "anthropic", ANTHROPIC_TEXT)],
)
async def test_non_stream_other_dialect_is_translated(
    app: Dialect, stored: Dialect, body: JSON
) -> None:
    response = replay(request(app, stream=False), body, dialect=stored, usage=USAGE)
    assert response.body is not None and response.dialect == app
    if app == "anthropic":
        assert response.body["type"] == "message"
        assert response.body["usage"]["input_tokens"] == USAGE.uncached_input_tokens
    else:
        assert response.body["object"] == "chat.completion"
        assert response.body["choices"][0]["message"]["content"] == "Bonjour."
        assert response.body["usage"]["prompt_tokens"] == USAGE.input_tokens


# -- the contract ------------------------------------------------------------------------


async def test_replayed_stream_is_booked_before_it_is_handed_on() -> None:
    response = replay(
        request("anthropic", stream=True), ANTHROPIC_TEXT, dialect="anthropic", usage=USAGE
    )
    log: list[str] = []

    async def on_complete() -> None:
        assert response.usage == USAGE
        log.append("complete")

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        log.append("abort")

    observe(response, on_complete=on_complete, on_abort=on_abort)
    assert response.stream is not None
    async for got in response.stream:
        log.append(f"batch of {len(got)}")
    assert log == ["complete", "batch of 6"]


async def test_an_unread_replay_can_be_closed() -> None:
    response = replay(request("openai", stream=True), OPENAI_TEXT, dialect="openai", usage=USAGE)
    stream = response.stream
    assert isinstance(stream, AsyncIterator)
    await getattr(stream, "aclose")()  # noqa: B009
    assert [got async for got in stream] == []
    assert not response.stream_complete
