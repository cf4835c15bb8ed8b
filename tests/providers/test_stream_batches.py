"""An OpenAI stream's events of one read, handled in one call (``on_events``), give what
handling them one at a time gives: the same bytes to the app, the same usage, model,
truncation and completion, the same error at the same place; and the plain deltas in
between are not looked at one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from thrifty.errors import ThriftyError
from thrifty.providers import HttpPool, build_provider, openai_compat
from thrifty.providers.sse import SSEParser
from thrifty.providers.streaming import StreamHandler, each_event
from thrifty.types import ChatResponse, StreamEvent

from .fake_upstream import KEY, openai_request, openai_settings


def chunk(choices: list[Any], usage: Any = None, **extra: Any) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1-2025", **extra}
    body |= {"choices": choices, "usage": usage}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def delta(text: str, finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"index": index, "delta": {"content": text}, "finish_reason": finish}


ROLE = chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
USAGE = chunk([], {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16})
DONE = b"data: [DONE]\n\n"
TEXT = [chunk([delta(word)]) for word in ("One", " two", " three", " four", " five")]

STREAMS = {
    "answered": [ROLE, *TEXT, chunk([delta("", "stop")]), USAGE, DONE],
    "cut by length on one of two choices": [
        ROLE,
        *TEXT,
        chunk([delta("", "length", 0), delta("", None, 1)]),
        USAGE,
        DONE,
    ],
    "marks inside the text": [
        ROLE,
        chunk([delta('say "usage" and [DONE] and "error" and "length"')]),
        *TEXT,
        USAGE,
        DONE,
    ],
    "a usage null with a space": [
        ROLE,
        *TEXT[:2],
        TEXT[2].replace(b'"usage":null', b'"usage": null'),
        USAGE,
        DONE,
    ],
    "events after the terminal one": [ROLE, *TEXT, USAGE, DONE, *TEXT],
    "cut before its usage": [ROLE, *TEXT],
    "an error mid-stream": [
        ROLE,
        *TEXT[:3],
        b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n',
        *TEXT[3:],
    ],
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
    )


@pytest.fixture
async def handlers() -> Iterator[Any]:
    pool = HttpPool()
    provider = build_provider("openai", openai_settings("http://127.0.0.1:9"), pool, api_key=KEY)

    def make() -> tuple[StreamHandler, ChatResponse]:
        response = ChatResponse(dialect="openai", model="cheap", provider="openai")
        request = openai_request(stream=True)
        return provider._stream_handler(request, response, False), response

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


@pytest.mark.parametrize("name", list(STREAMS))
async def test_one_call_per_read_gives_what_one_call_per_event_gives(
    handlers: Any, name: str
) -> None:
    body = b"".join(STREAMS[name])
    batched, batched_response = handlers()
    single, single_response = handlers()
    assert batched.strip_fragment == b',"usage":null'  # the app did not ask for usage
    events = SSEParser(strip=batched.strip_fragment).feed(body)
    assert run(batched, events, True) == run(single, list(events), False)
    assert facts(batched_response) == facts(single_response)


async def test_the_facts_are_read_and_the_app_gets_the_chunks_without_usage(
    handlers: Any,
) -> None:
    handler, response = handlers()
    events = SSEParser(strip=handler.strip_fragment).feed(
        b"".join(STREAMS["cut by length on one of two choices"])
    )
    raws, error = run(handler, events, True)
    assert error is None
    assert response.usage.input_tokens == 9 and response.usage.output_tokens == 7
    assert response.truncated and response.stream_complete and response.model == "gpt-4.1-2025"
    assert raws[-1] == DONE and all(b'"usage"' not in raw for raw in raws)
    assert len(raws) == 8  # the usage chunk, asked for by thrifty, is not passed on


async def test_the_error_comes_after_the_events_before_it(handlers: Any) -> None:
    handler, _ = handlers()
    events = SSEParser(strip=handler.strip_fragment).feed(b"".join(STREAMS["an error mid-stream"]))
    raws, error = run(handler, events, True)
    assert error is not None and "overloaded" in error
    assert len(raws) == 4  # the role chunk and three deltas


async def test_plain_deltas_are_not_looked_at_one_by_one(
    handlers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at: list[bytes] = []
    one_event = openai_compat._OpenAIStream.on_event

    def counting(self: Any, event: StreamEvent) -> Any:
        looked_at.append(event.raw)
        return one_event(self, event)

    monkeypatch.setattr(openai_compat._OpenAIStream, "on_event", counting)
    handler, _ = handlers()
    events = SSEParser(strip=handler.strip_fragment).feed(b"".join(STREAMS["answered"]))
    run(handler, events, True)
    # The first chunk (the model), the usage and [DONE]; not the deltas (the finish chunk
    # with "stop" is a plain delta too).
    assert looked_at == [events[0].raw, events[-2].raw, events[-1].raw]


async def test_an_app_that_asked_for_usage_gets_every_chunk_looked_at(handlers: Any) -> None:
    pool = HttpPool()
    try:
        provider = build_provider(
            "openai", openai_settings("http://127.0.0.1:9"), pool, api_key=KEY
        )
        response = ChatResponse(dialect="openai", model="cheap", provider="openai")
        request = openai_request(stream=True, stream_options={"include_usage": True})
        handler = provider._stream_handler(request, response, False)
        assert handler.strip_fragment is None
        events = SSEParser().feed(b"".join(STREAMS["answered"]))
        raws, _ = run(handler, events, True)
        assert raws == [event.raw for event in events]  # the usage chunk included
        assert response.usage.output_tokens == 7
    finally:
        await pool.aclose()
