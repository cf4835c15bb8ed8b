"""The OpenAI provider's other API operations (Responses, embeddings, legacy completions)
against a scripted loopback upstream: the path, the body sent, usage in each shape, the
Responses stream's edge cases (failed, error events, unnamed events, cut, no usage)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from thrifty.errors import BadRequest, StreamInterrupted, UpstreamError
from thrifty.providers import HttpPool, build_provider
from thrifty.providers.estimate import estimate_output_tokens, estimate_prompt_tokens
from thrifty.providers.usage import responses_server_tools, usage_from_responses
from thrifty.types import Api, ChatRequest, StreamEvent, Usage

from .fake_upstream import KEY, FakeUpstream, Script, anthropic_settings, drain, openai_settings

PATHS = ("/v1/responses", "/v1/embeddings", "/v1/completions", "/v1/messages")


@pytest.fixture
async def api_upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    app = web.Application()
    for path in PATHS:
        app.router.add_post(path, fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


def request(api: Api, body: dict[str, Any], *, stream: bool = False) -> ChatRequest:
    return ChatRequest(
        dialect="openai",
        body={"model": "asked", **body, **({"stream": True} if stream else {})},
        model="gpt-4o-mini",
        requested_model="asked",
        stream=stream,
        api=api,
    )


def event(kind: str, data: dict[str, Any], *, named: bool = True) -> bytes:
    payload = orjson.dumps({"type": kind, **data})
    return (b"event: " + kind.encode() + b"\n" if named else b"") + b"data: " + payload + b"\n\n"


RESPONSE_USAGE = {
    "input_tokens": 2000,
    "input_tokens_details": {"cached_tokens": 1500},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 120},
    "total_tokens": 2300,
}


def response_object(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "model": "gpt-4o-mini-2024", "status": status}


def test_responses_usage_counts_cached_and_reasoning_as_parts() -> None:
    assert usage_from_responses(RESPONSE_USAGE) == Usage(
        input_tokens=2000, output_tokens=300, cache_read_tokens=1500, reasoning_tokens=120
    )
    wrong = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 50}}
    assert usage_from_responses(wrong).cache_read_tokens == 10  # never more than the total
    assert usage_from_responses({}) == Usage()


def test_responses_server_tools_count_the_tool_call_items() -> None:
    output = [
        {"type": "web_search_call", "status": "completed"},
        {"type": "message"},
        {"type": "web_search_call"},
        {"type": "file_search_call"},
        "junk",
    ]
    assert responses_server_tools(output) == {"web_search": 2, "file_search": 1}
    assert responses_server_tools(None) == {}


@pytest.mark.parametrize(
    ("api", "path", "body", "answer", "usage"),
    [
        (
            "responses",
            "/v1/responses",
            {"input": "hi", "stream_options": {"include_obfuscation": False}},
            {**response_object("completed"), "usage": RESPONSE_USAGE},
            Usage(
                input_tokens=2000, output_tokens=300, cache_read_tokens=1500, reasoning_tokens=120
            ),
        ),
        (
            "embeddings",
            "/v1/embeddings",
            {"input": ["a", "b"]},
            {
                "object": "list",
                "data": [],
                "model": "m",
                "usage": {"prompt_tokens": 7, "total_tokens": 7},
            },
            Usage(input_tokens=7),
        ),
        (
            "completions",
            "/v1/completions",
            {"prompt": "hi"},
            {
                "object": "text_completion",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 16, "total_tokens": 19},
            },
            Usage(input_tokens=3, output_tokens=16),
        ),
    ],
)
async def test_each_api_is_posted_to_its_path_and_read_in_its_shape(
    api_upstream: FakeUpstream,
    pool: HttpPool,
    api: Api,
    path: str,
    body: dict[str, Any],
    answer: dict[str, Any],
    usage: Usage,
) -> None:
    api_upstream.add(Script(body=answer))
    provider = build_provider("openai", openai_settings(api_upstream.url), pool, api_key=KEY)
    response = await provider(request(api, body))
    [seen] = api_upstream.seen
    assert seen.path == path and seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "gpt-4o-mini"
    assert "stream" not in seen.body and "stream_options" not in seen.body
    assert response.usage == usage and response.usage_reported
    assert response.body == answer  # passed through untouched


async def test_a_responses_answer_counts_its_web_searches(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    output = [{"type": "web_search_call"}, {"type": "message", "content": []}]
    answer = {**response_object("completed"), "usage": RESPONSE_USAGE, "output": output}
    api_upstream.add(Script(body={**answer, "service_tier": "Flex"}))
    provider = build_provider("openai", openai_settings(api_upstream.url), pool, api_key=KEY)
    response = await provider(request("responses", {"input": "news?"}))
    assert response.server_tools == {"web_search": 1}
    assert response.service_tier == "flex"


@pytest.mark.parametrize(("api", "asks_usage"), [("completions", True), ("responses", False)])
async def test_only_completions_streams_ask_for_the_usage_chunk(
    api_upstream: FakeUpstream, pool: HttpPool, api: Api, asks_usage: bool
) -> None:
    done = event("response.completed", {"response": response_object("completed")})
    api_upstream.add(Script(chunks=[done if api == "responses" else b"data: [DONE]\n\n"]))
    provider = build_provider("openai", openai_settings(api_upstream.url), pool, api_key=KEY)
    response = await provider(request(api, {"prompt": "x", "input": "x"}, stream=True))
    await drain(response)
    [seen] = api_upstream.seen
    assert seen.body["stream"] is True
    assert ("stream_options" in seen.body) is asks_usage


async def test_an_anthropic_provider_refuses_other_apis(pool: HttpPool) -> None:
    provider = build_provider(
        "anthropic", anthropic_settings("http://127.0.0.1:9"), pool, api_key=KEY
    )
    with pytest.raises(BadRequest, match="OpenAI-compatible providers only") as caught:
        await provider(request("embeddings", {"input": "x"}))
    assert caught.value.status == 400 and not caught.value.reached_upstream


def stream_of(*events: bytes) -> Script:
    return Script(chunks=list(events))


HEAD = (
    event("response.created", {"response": response_object("in_progress")}),
    event(
        "response.output_text.delta", {"delta": "Hello there, ", "item_id": "m", "output_index": 0}
    ),
    event("response.output_text.delta", {"delta": "friend.", "item_id": "m", "output_index": 0}),
)


async def run_stream(
    upstream: FakeUpstream, pool: HttpPool, script: Script
) -> tuple[Any, list[StreamEvent], BaseException | None]:
    upstream.add(script)
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(request("responses", {"input": "Say hello"}, stream=True))
    events: list[StreamEvent] = []
    error: BaseException | None = None
    assert response.stream is not None
    try:
        async for batch in response.stream:
            events.extend(batch)
    except UpstreamError as exc:
        error = exc
    return response, events, error


async def test_a_completed_stream_passes_every_event_and_books_its_usage(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    done = {**response_object("completed"), "usage": RESPONSE_USAGE, "service_tier": "default"}
    script = stream_of(*HEAD, event("response.completed", {"response": done}))
    response, events, error = await run_stream(api_upstream, pool, script)
    assert error is None and response.stream_complete
    assert [e.event for e in events] == [
        "response.created",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.completed",
    ]
    assert response.usage == usage_from_responses(RESPONSE_USAGE)
    assert response.model == "gpt-4o-mini-2024" and response.service_tier == "default"
    assert not response.usage_estimated


async def test_an_incomplete_response_is_a_complete_stream(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    capped = {**response_object("incomplete"), "usage": RESPONSE_USAGE}
    script = stream_of(*HEAD, event("response.incomplete", {"response": capped}))
    response, _, error = await run_stream(api_upstream, pool, script)
    assert error is None and response.stream_complete and response.usage.output_tokens == 300


async def test_a_failed_response_raises_with_the_usage_it_reports(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    failed = {
        **response_object("failed"),
        "usage": RESPONSE_USAGE,
        "error": {"code": "server_error", "message": "the model fell over"},
    }
    script = stream_of(*HEAD, event("response.failed", {"response": failed}))
    response, events, error = await run_stream(api_upstream, pool, script)
    assert isinstance(error, UpstreamError) and "the model fell over" in error.message
    assert error.reached_upstream
    assert not response.stream_complete  # booked as a failure, never as an answer
    assert "response.failed" not in [e.event for e in events]
    assert response.usage == usage_from_responses(RESPONSE_USAGE)
    assert not response.usage_estimated


async def test_an_error_event_raises(api_upstream: FakeUpstream, pool: HttpPool) -> None:
    error_event = event("error", {"code": "rate_limit_exceeded", "message": "slow down"})
    response, _, error = await run_stream(api_upstream, pool, stream_of(*HEAD, error_event))
    assert isinstance(error, UpstreamError) and "slow down" in error.message
    assert not response.stream_complete


async def test_a_cut_stream_is_estimated_from_the_deltas_seen(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream_script = Script(chunks=list(HEAD), abort=True)
    api_upstream.add(upstream_script)
    provider = build_provider("openai", openai_settings(api_upstream.url), pool, api_key=KEY)
    response = await provider(request("responses", {"input": "Say hello"}, stream=True))
    assert response.stream is not None
    with pytest.raises(StreamInterrupted):
        async for _ in response.stream:
            pass
    assert response.usage_estimated and response.usage_reported
    # The prompt: ceil(9 / 4) + 3 (one message) + 3 (priming); the output: ceil(20 / 4).
    assert response.usage == Usage(input_tokens=math.ceil(9 / 4) + 6, output_tokens=5)


async def test_unnamed_events_are_read_from_their_type(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    # A compatible server that sends no `event:` lines: the same stream, read from `type`.
    done = {**response_object("completed"), "usage": RESPONSE_USAGE}
    script = stream_of(
        event("response.created", {"response": response_object("in_progress")}, named=False),
        event("response.output_text.delta", {"delta": "Hi"}, named=False),
        event("response.completed", {"response": done}, named=False),
    )
    response, events, error = await run_stream(api_upstream, pool, script)
    assert error is None and response.stream_complete and len(events) == 3
    assert response.usage == usage_from_responses(RESPONSE_USAGE)


async def test_a_terminal_event_without_usage_stays_unreported(
    api_upstream: FakeUpstream, pool: HttpPool
) -> None:
    script = stream_of(
        *HEAD, event("response.completed", {"response": response_object("completed")})
    )
    response, _, error = await run_stream(api_upstream, pool, script)
    assert error is None and response.stream_complete
    assert not response.usage_reported and not response.usage_estimated  # never a guess


def test_prompt_estimates_read_every_api_shape() -> None:
    responses = {
        "instructions": "Be brief.",  # 9 characters, one framed message
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "abcd" * 3}]},
            {"type": "function_call", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ],
    }
    chars = 9 + 12 + 1 + 2 + 2
    assert estimate_prompt_tokens(responses) == math.ceil(chars / 4) + 3 * 4 + 3
    completions = {"prompt": ["abcdefgh", [1, 2, 3]]}
    assert estimate_prompt_tokens(completions) == 2 + 3 + 3 * 2 + 3
    assert estimate_prompt_tokens({"prompt": [5, 6, 7, 8]}) == 4 + 3 + 3
    assert estimate_prompt_tokens({"input": "abcd"}) == 1 + 3 + 3


def test_output_estimates_read_responses_and_completion_deltas() -> None:
    delta = event("response.output_text.delta", {"delta": "x" * 40})
    one = StreamEvent.from_wire("response.output_text.delta", delta.split(b"data: ")[1], delta)
    assert estimate_output_tokens(1, len(delta), one) == 10
    chunk = b'data: {"choices":[{"text":"' + b"y" * 40 + b'","index":0}]}\n\n'
    parsed = StreamEvent.from_wire(None, chunk[6:].strip(), chunk)
    assert estimate_output_tokens(1, len(chunk), parsed) == 10
