"""An Anthropic stream's events of one read, handled in one call (``on_events``), give
what handling them one at a time gives: the same bytes to the app, the same usage, model,
truncation, server tools and completion, the same error at the same place; and the text
deltas, block ends and pings are not looked at one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from thrifty.errors import ThriftyError
from thrifty.providers import HttpPool, anthropic, build_provider
from thrifty.providers.sse import SSEParser
from thrifty.providers.streaming import StreamHandler, each_event
from thrifty.types import ChatResponse, StreamEvent

from .fake_upstream import KEY, anthropic_request, anthropic_settings


def event(name: str, **data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"


START = event(
    "message_start",
    message={
        "id": "msg_1",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 4},
    },
)
BLOCK = event("content_block_start", index=0, content_block={"type": "text", "text": ""})
TOOL = event(
    "content_block_start",
    index=1,
    content_block={"type": "server_tool_use", "id": "t1", "name": "web_search", "input": {}},
)
PING = event("ping")
TEXT = [
    event("content_block_delta", index=0, delta={"type": "text_delta", "text": word})
    for word in ("One", " two", ' "usage" and', " message_stop", " four")
]
BLOCK_STOP = event("content_block_stop", index=0)


def end(reason: str) -> bytes:
    return event(
        "message_delta",
        delta={"stop_reason": reason},
        usage={"output_tokens": 9, "server_tool_use": {"web_search_requests": 1}},
    )


STOP = event("message_stop")
ERROR = event("error", error={"type": "overloaded_error", "message": "Overloaded"})

STREAMS = {
    "answered": [START, BLOCK, PING, *TEXT, BLOCK_STOP, end("end_turn"), STOP],
    "cut by max_tokens": [START, BLOCK, *TEXT, BLOCK_STOP, end("max_tokens"), STOP],
    "a server tool, cut before message_delta": [START, TOOL, BLOCK, *TEXT],
    "cut before message_start": [BLOCK, *TEXT],
    "ended without message_delta": [START, BLOCK, *TEXT, BLOCK_STOP, STOP],
    "events after the terminal one": [START, BLOCK, *TEXT, end("end_turn"), STOP, *TEXT],
    "an error mid-stream": [START, BLOCK, *TEXT[:2], PING, ERROR, *TEXT[2:]],
}


def facts(response: ChatResponse) -> tuple[Any, ...]:
    return (
        response.usage,
        response.usage_reported,
        response.usage_estimated,
        response.truncated,
        response.model,
        response.stream_complete,
        response.service_tier,
        response.server_tools,
    )


@pytest.fixture
async def handlers() -> Iterator[Any]:
    pool = HttpPool()
    provider = build_provider(
        "anthropic", anthropic_settings("http://127.0.0.1:9"), pool, api_key=KEY
    )

    def make(translate: bool = False) -> tuple[StreamHandler, ChatResponse]:
        response = ChatResponse(dialect="anthropic", model="cheap", provider="anthropic")
        request = anthropic_request(stream=True)
        return provider._stream_handler(request, response, translate), response

    yield make
    await pool.aclose()


def run(
    handler: StreamHandler, events: list[StreamEvent], batched: bool
) -> tuple[list[bytes], str | None]:
    out: list[StreamEvent] = []
    error = None
    try:
        if batched:
            handler.on_events(events, out)  # type: ignore[attr-defined]
        else:
            each_event(handler, events, out)
    except ThriftyError as exc:
        error = f"{type(exc).__name__}: {exc}"
    handler.settle()
    return [event.raw for event in out], error


@pytest.mark.parametrize("translate", [False, True], ids=["as it came", "translated"])
@pytest.mark.parametrize("name", list(STREAMS))
async def test_one_call_per_read_gives_what_one_call_per_event_gives(
    handlers: Any, name: str, translate: bool
) -> None:
    events = SSEParser().feed(b"".join(STREAMS[name]))
    assert len(events) == len(STREAMS[name])
    batched, batched_response = handlers(translate)
    single, single_response = handlers(translate)
    assert run(batched, events, True) == run(single, list(events), False)
    assert facts(batched_response) == facts(single_response)


async def test_the_facts_are_read_and_every_event_reaches_the_app(handlers: Any) -> None:
    handler, response = handlers()
    events = SSEParser().feed(b"".join(STREAMS["cut by max_tokens"]))
    raws, error = run(handler, events, True)
    assert error is None and raws == list(STREAMS["cut by max_tokens"])
    assert response.usage.input_tokens == 16 and response.usage.output_tokens == 9  # 12 + 4 read
    assert response.usage.cache_read_tokens == 4 and not response.usage_estimated
    assert response.truncated and response.stream_complete
    assert response.model == "claude-sonnet-4-5-20250929"
    assert response.server_tools == {"web_search": 1}


async def test_a_stream_cut_short_is_estimated_with_its_server_tools(handlers: Any) -> None:
    handler, response = handlers()
    events = SSEParser().feed(b"".join(STREAMS["a server tool, cut before message_delta"]))
    raws, error = run(handler, events, True)
    assert error is None and len(raws) == len(events)
    assert response.usage_estimated and not response.stream_complete
    assert response.usage.input_tokens == 16 and response.usage.output_tokens >= 1
    assert response.server_tools == {"web_search": 1}


async def test_nothing_after_the_terminal_event_reaches_the_app(handlers: Any) -> None:
    handler, _ = handlers()
    events = SSEParser().feed(b"".join(STREAMS["events after the terminal one"]))
    raws, _ = run(handler, events, True)
    assert raws[-1] == STOP and len(raws) == len(events) - len(TEXT)
    later: list[StreamEvent] = []
    handler.on_events(SSEParser().feed(b"".join(TEXT)), later)  # type: ignore[attr-defined]
    assert later == []  # a later read too


async def test_the_error_comes_after_the_events_before_it(handlers: Any) -> None:
    handler, _ = handlers()
    events = SSEParser().feed(b"".join(STREAMS["an error mid-stream"]))
    raws, error = run(handler, events, True)
    assert error is not None and "Overloaded" in error
    assert raws == [START, BLOCK, *TEXT[:2], PING]


async def test_deltas_block_ends_and_pings_are_not_looked_at_one_by_one(
    handlers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at: list[str | None] = []
    one_event = anthropic._AnthropicStream.on_event

    def counting(self: Any, event: StreamEvent) -> Any:
        looked_at.append(event.event)
        return one_event(self, event)

    monkeypatch.setattr(anthropic._AnthropicStream, "on_event", counting)
    handler, _ = handlers()
    run(handler, SSEParser().feed(b"".join(STREAMS["answered"])), True)
    assert looked_at == ["message_start", "content_block_start", "message_delta", "message_stop"]
