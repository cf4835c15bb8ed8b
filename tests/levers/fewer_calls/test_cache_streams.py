"""Streams and the exact cache: a stream reaches the app live and is stored only once it
completed; a stored answer serves streamed and non-streamed requests alike; the events a
stream carried add up to the body it stands for."""

from __future__ import annotations

from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.dialects._common import anthropic_sse
from thrifty.levers.fewer_calls.cache import ExactCache
from thrifty.levers.fewer_calls.cache_policy import policies_for
from thrifty.levers.fewer_calls.cache_store import Tally
from thrifty.store import MemoryCache
from thrifty.streams import anthropic_events, openai_events
from thrifty.streams.record import Recorder, body_of
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import JSON, ChatRequest, ChatResponse, StreamEvent, Usage

USAGE = Usage(input_tokens=300, output_tokens=40, cache_read_tokens=100)
MODELS = [("gpt-4o", "openai"), ("claude-sonnet-4-6", "anthropic")]


def det(model: str, dialect: Any, stream: bool) -> ChatRequest:
    return request_for(model, "tell me", dialect=dialect, stream=stream, temperature=0)


def answer(request: ChatRequest) -> ChatResponse:
    if request.stream:
        return stream_reply(request, ("Hel", "lo", " there"), USAGE)
    return reply(request, "Hello there", USAGE)


class Cached:
    """The cache over an upstream answering with ``answer_with``."""

    def __init__(self, answer_with: Any = answer, max_entry_bytes: int = 2**20) -> None:
        self.store, self.tally = MemoryCache(), Tally(None)
        self.upstream = FakeUpstream(answer_with)
        self.cache = ExactCache(
            self.store, policies_for(Settings()), self.tally, max_entry_bytes=max_entry_bytes
        )
        self.handler = self.cache(self.upstream)

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        return await self.handler(request)

    async def read(self, request: ChatRequest) -> list[StreamEvent]:
        """Ask, read the whole stream, and wait for the cache's write."""
        events = await collect(await self.handler(request))
        await self.cache.drain()
        return events

    async def entries(self) -> int:
        await self.cache.drain()
        return (await self.store.stats()).entries


def text(events: list[StreamEvent]) -> str:
    out = []
    for event in events:
        data = event.data or {}
        for choice in data.get("choices") or ():
            out.append(choice["delta"].get("content") or "")
        if data.get("type") == "content_block_delta":
            out.append(data["delta"].get("text", ""))
    return "".join(out)


@pytest.mark.parametrize(("model", "dialect"), MODELS)
async def test_a_completed_stream_is_stored_and_replayed_as_a_stream(
    model: str, dialect: Any
) -> None:
    cached = Cached()
    first = await cached(det(model, dialect, True))
    assert first.headers["cache"] == "miss"
    assert await cached.entries() == 0  # nothing before the stream completed
    assert text(await collect(first)) == "Hello there"
    assert await cached.entries() == 1 and cached.tally["stored"] == 1
    second = await cached(det(model, dialect, True))
    assert second.headers["cache"] == "hit" and second.served is None
    events = await collect(second)
    assert text(events) == "Hello there" and second.stream_complete
    assert second.usage == USAGE and len(cached.upstream.requests) == 1


@pytest.mark.parametrize(("model", "dialect"), MODELS)
async def test_a_stored_stream_serves_a_plain_request_and_the_other_way_round(
    model: str, dialect: Any
) -> None:
    cached = Cached()
    await cached.read(det(model, dialect, True))
    plain = await cached(det(model, dialect, False))
    assert len(cached.upstream.requests) == 1
    assert plain.headers["cache"] == "hit" and plain.body is not None
    if dialect == "openai":
        assert plain.body["choices"][0]["message"]["content"] == "Hello there"
        assert plain.body["choices"][0]["finish_reason"] == "stop"
    else:
        assert plain.body["content"] == [{"type": "text", "text": "Hello there"}]
        assert plain.body["stop_reason"] == "end_turn"
    other = Cached()
    await other(det(model, dialect, False))
    streamed = await other(det(model, dialect, True))
    assert streamed.headers["cache"] == "hit"
    assert text(await collect(streamed)) == "Hello there"


@pytest.mark.parametrize(("model", "dialect"), MODELS)
async def test_a_cut_stream_is_not_stored(model: str, dialect: Any) -> None:
    def cut(request: ChatRequest) -> ChatResponse:
        return stream_reply(request, ("a", "b", "c"), USAGE, fail_after=2)

    cached = Cached(cut)
    with pytest.raises(Exception, match="cut the stream"):
        await cached.read(det(model, dialect, True))
    assert await cached.entries() == 0 and cached.tally["not_stored"] == 1


async def test_a_stream_the_app_left_early_is_not_stored() -> None:
    cached = Cached()
    response = await cached(det("gpt-4o", "openai", True))
    assert response.stream is not None
    async for _ in response.stream:
        break
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert await cached.entries() == 0 and cached.tally["not_stored"] == 1


async def test_a_stream_never_read_is_closed_and_not_stored() -> None:
    closed: list[bool] = []

    def tracked(request: ChatRequest) -> ChatResponse:
        response = stream_reply(request, ("a",), USAGE)
        inner = response.stream
        assert inner is not None

        class Tracked:
            def __aiter__(self) -> Any:
                return inner

            async def aclose(self) -> None:
                closed.append(True)
                await inner.aclose()  # type: ignore[attr-defined]

        response.stream = Tracked()  # type: ignore[assignment]
        return response

    cached = Cached(tracked)
    response = await cached(det("gpt-4o", "openai", True))
    await response.stream.aclose()  # type: ignore[union-attr]
    assert closed == [True] and await cached.entries() == 0


async def test_a_stream_over_the_byte_budget_is_passed_on_whole_but_not_kept() -> None:
    def big(request: ChatRequest) -> ChatResponse:
        return stream_reply(request, ["x" * 100] * 50, USAGE)

    cached = Cached(big, max_entry_bytes=1000)
    assert text(await cached.read(det("gpt-4o", "openai", True))) == "x" * 5000
    assert await cached.entries() == 0 and cached.tally["not_stored"] == 1


async def test_a_hit_is_served_while_its_write_is_under_way() -> None:
    cached = Cached()
    first = await cached(det("gpt-4o", "openai", False))
    assert first.headers["cache"] == "miss"
    second = await cached(det("gpt-4o", "openai", False))  # no drain in between
    assert second.headers["cache"] == "hit"
    assert len(cached.upstream.requests) == 1 and await cached.entries() == 1


# -- adding events up to a body ---------------------------------------------------------------

TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
OPENAI_BODIES: list[JSON] = [
    {"content": "hi", "finish": "stop"},
    {"content": None, "tool_calls": [TOOL_CALL], "finish": "tool_calls"},
    {"content": "sure", "tool_calls": [TOOL_CALL, {**TOOL_CALL, "id": "call_2"}], "finish": "stop"},
]


def openai_body(spec: JSON) -> JSON:
    message: JSON = {"role": "assistant", "content": spec["content"]}
    if "tool_calls" in spec:
        message["tool_calls"] = spec["tool_calls"]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 7,
        "model": "gpt-4o",
        "system_fingerprint": "fp_1",
        "choices": [
            {"index": 0, "message": message, "finish_reason": spec["finish"], "logprobs": None}
        ],
    }


@pytest.mark.parametrize("spec", OPENAI_BODIES)
@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_events_add_up_to_the_body_they_came_from(spec: JSON, include_usage: bool) -> None:
    body = openai_body(spec)
    events = openai_events(body, USAGE, include_usage=include_usage)
    rebuilt = body_of(events, "openai", USAGE)
    assert rebuilt is not None
    assert rebuilt["choices"] == body["choices"]
    assert {k: rebuilt[k] for k in ("id", "created", "model", "system_fingerprint")} == {
        k: body[k] for k in ("id", "created", "model", "system_fingerprint")
    }
    assert rebuilt["usage"]["prompt_tokens"] == 300


ANTHROPIC_CONTENT: list[list[JSON]] = [
    [{"type": "text", "text": "hi"}],
    [
        {"type": "thinking", "thinking": "let me see", "signature": "sig"},
        {"type": "text", "text": "Use f."},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, 2]}},
    ],
    [{"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}}],
    [
        {
            "type": "text",
            "text": "cited",
            "citations": [{"type": "char_location", "cited_text": "x"}],
        }
    ],
]


@pytest.mark.parametrize("content", ANTHROPIC_CONTENT)
def test_anthropic_events_add_up_to_the_body_they_came_from(content: list[JSON]) -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
    }
    rebuilt = body_of(anthropic_events(body, USAGE), "anthropic", USAGE)
    assert rebuilt is not None
    assert {k: v for k, v in rebuilt.items() if k != "usage"} == body
    assert rebuilt["usage"]["cache_read_input_tokens"] == 100


def test_streams_that_add_up_to_nothing() -> None:
    ok = anthropic_events(
        {"type": "message", "content": [{"type": "text", "text": "a"}], "stop_reason": "end_turn"},
        USAGE,
    )
    error = anthropic_sse({"type": "error", "error": {"type": "overloaded_error"}})
    assert body_of([*ok[:-1], error], "anthropic", USAGE) is None
    odd_delta = anthropic_sse(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "new_delta", "x": 1}}
    )
    assert body_of([*ok[:2], odd_delta, *ok[2:]], "anthropic", USAGE) is None
    assert body_of(ok[1:], "anthropic", USAGE) is None  # no message_start
    malformed = StreamEvent.from_wire(None, b"{not json", b"data: {not json\n\n")
    assert body_of([malformed], "openai", USAGE) is None
    logprobs = openai_events(openai_body(OPENAI_BODIES[0]), USAGE, include_usage=False)
    data = logprobs[1].data
    assert data is not None
    data["choices"][0]["logprobs"] = {"content": [{"token": "hi", "logprob": -0.1}]}
    assert body_of(logprobs, "openai", USAGE) is None
    assert body_of([], "openai", USAGE) is None


async def test_the_recorder_keeps_events_within_its_budget_and_closes_its_upstream() -> None:
    closed: list[bool] = []

    async def upstream() -> Any:
        try:
            for n in range(3):
                yield [StreamEvent(None, {"n": n}, b"x" * 10)]
        finally:
            closed.append(True)

    recorder = Recorder(upstream(), budget=25)
    got = [batch async for batch in recorder]
    assert len(got) == 3 and recorder.overflow and recorder.events == []
    small = Recorder(upstream(), budget=100)
    assert len([b async for b in small]) == 3 and len(small.events) == 3
    early = Recorder(upstream(), budget=100)
    await early.__anext__()
    await early.aclose()
    assert closed == [True, True, True]
