"""What the answering call was billed on, against a scripted loopback upstream: the service
tier and server tools the response reports, streams cut or abandoned before their usage
(booked as an estimate), and failures after the request reached the provider."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from thrifty.errors import (
    StreamInterrupted,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from thrifty.providers import HttpPool, build_provider
from thrifty.providers.estimate import estimate_prompt_tokens
from thrifty.types import ChatRequest, ChatResponse, StreamEvent, Usage

from .fake_upstream import (
    KEY,
    FakeUpstream,
    Script,
    anthropic_request,
    anthropic_settings,
    drain,
    openai_request,
    openai_settings,
)
from .wire_payloads import (
    ANTHROPIC_CACHED_MESSAGE,
    ANTHROPIC_STREAM_EVENTS,
    ANTHROPIC_WEB_SEARCH_STREAM,
    ANTHROPIC_WEB_SEARCH_USAGE,
    OPENAI_CACHED_COMPLETION,
    OPENAI_SEARCH_COMPLETION,
    OPENAI_STREAM_CHUNKS,
    anthropic_sse,
    openai_sse,
)


def openai(upstream: FakeUpstream, pool: HttpPool, **kw: Any) -> Any:
    return build_provider("openai", openai_settings(upstream.url, **kw), pool, api_key=KEY)


def anthropic(upstream: FakeUpstream, pool: HttpPool, **kw: Any) -> Any:
    return build_provider("anthropic", anthropic_settings(upstream.url, **kw), pool, api_key=KEY)


def search_request(stream: bool = False) -> ChatRequest:
    body: dict[str, Any] = {
        "model": "gpt-4o-search-preview",
        "messages": [{"role": "user", "content": "What happened today?"}],
        "web_search_options": {},
    }
    if stream:
        body["stream"] = True
    return ChatRequest(
        dialect="openai",
        body=body,
        model="gpt-4o-search-preview",
        requested_model="gpt-4o-search-preview",
        stream=stream,
    )


async def read_until_error(response: ChatResponse) -> tuple[list[StreamEvent], BaseException]:
    got: list[StreamEvent] = []
    assert response.stream is not None
    with pytest.raises(UpstreamError) as info:
        async for batch in response.stream:
            got.extend(batch)
    return got, info.value


# -- service tier and server tools, non-stream ---------------------------------------------


async def test_openai_reports_the_tier_it_billed(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body={**OPENAI_CACHED_COMPLETION, "service_tier": "Priority"}))
    upstream.add(
        Script(body={k: v for k, v in OPENAI_CACHED_COMPLETION.items() if k != "service_tier"})
    )
    provider = openai(upstream, pool)
    priority = await provider(openai_request(service_tier="auto"))
    assert priority.service_tier == "priority"  # what the response says, not the request
    assert priority.server_tools == {}
    bare = await provider(openai_request())
    assert bare.service_tier is None


async def test_openai_search_model_bills_one_search(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=OPENAI_SEARCH_COMPLETION))
    response = await openai(upstream, pool)(search_request())
    assert response.server_tools == {"web_search": 1}
    assert response.service_tier == "default"
    assert response.usage_estimated is False
    response.served = search_request()  # what dispatch sets: the call the ledger prices
    call = response.answer_call()
    assert call is not None
    assert (call.service_tier, call.server_tools) == ("default", (("web_search", 1),))


async def test_anthropic_reports_tier_and_web_searches(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    message = {
        **ANTHROPIC_CACHED_MESSAGE,
        "usage": {**ANTHROPIC_WEB_SEARCH_USAGE, "service_tier": "batch"},
    }
    upstream.add(Script(body=message))
    upstream.add(Script(body=ANTHROPIC_CACHED_MESSAGE))
    provider = anthropic(upstream, pool)
    searched = await provider(anthropic_request())
    assert searched.server_tools == {"web_search": 1}
    assert searched.service_tier == "batch"
    plain = await provider(anthropic_request())
    assert plain.server_tools == {}
    assert plain.service_tier == "standard"


async def test_translated_answer_keeps_the_upstream_facts(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    message = {
        **ANTHROPIC_CACHED_MESSAGE,
        "usage": {**ANTHROPIC_WEB_SEARCH_USAGE, "service_tier": "priority"},
    }
    upstream.add(Script(body=message))
    response = await anthropic(upstream, pool)(openai_request())  # OpenAI app, Claude upstream
    assert response.dialect == "openai"
    assert (response.service_tier, response.server_tools) == ("priority", {"web_search": 1})


# -- streams that complete -------------------------------------------------------------------


async def test_openai_stream_tier_from_parsed_chunks_only(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    chunks = [c if c is None else {**c, "service_tier": "flex"} for c in OPENAI_STREAM_CHUNKS]
    upstream.add(Script(chunks=[openai_sse(chunks)]))
    response = await openai(upstream, pool)(openai_request(stream=True))
    events = await drain(response)
    assert response.service_tier == "flex"
    assert response.usage == Usage(input_tokens=1117, output_tokens=7, cache_read_tokens=1024)
    assert response.usage_reported and not response.usage_estimated
    # Text deltas were passed through without being parsed, tier or not.
    assert [e._payload is not None for e in events[1:4]] == [True, True, True]


async def test_openai_search_stream_bills_one_search(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)]))
    response = await openai(upstream, pool)(search_request(stream=True))
    await drain(response)
    assert response.server_tools == {"web_search": 1}


async def test_anthropic_stream_tier_and_searches(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_WEB_SEARCH_STREAM)]))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    await drain(response)
    assert response.stream_complete
    assert response.service_tier == "priority"
    assert response.server_tools == {"web_search": 1}
    assert response.usage == Usage(input_tokens=10682, output_tokens=510)
    assert response.usage_reported and not response.usage_estimated


# -- streams cut before their usage: booked as an estimate -----------------------------------


async def test_anthropic_cut_stream_is_an_estimate_not_the_placeholder(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    # message_start .. the second search-free text delta, then the connection drops.
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_STREAM_EVENTS[:5])], abort=True))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    _, error = await read_until_error(response)
    assert isinstance(error, StreamInterrupted)
    assert response.usage_estimated and response.usage_reported
    usage = response.usage
    # The input message_start reported, exactly; the output estimated from 2 deltas.
    assert (usage.input_tokens, usage.cache_read_tokens) == (25 + 2048 + 300, 2048)
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (100, 200)
    assert usage.output_tokens == 2
    assert response.service_tier == "standard"
    # The error carries what is known.
    assert error.reached_upstream
    assert error.usage_estimate == usage
    assert error.model == "claude-haiku-4-5-20251001"


async def test_anthropic_cut_after_a_search_started_counts_it(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_WEB_SEARCH_STREAM[:7])], abort=True))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    await read_until_error(response)
    assert response.usage_estimated
    assert response.server_tools == {"web_search": 1}
    assert response.usage.input_tokens == 2679
    assert response.usage.output_tokens >= 3  # no less than message_start said


async def test_anthropic_stream_without_message_delta_is_estimated(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    """Even a message_stop without message_delta's usage is not booked at the placeholder."""
    events = [e for e in ANTHROPIC_STREAM_EVENTS if e["type"] != "message_delta"]
    upstream.add(Script(chunks=[anthropic_sse(events)]))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    assert response.stream is not None
    async for _batch in response.stream:
        if response.stream_complete:  # where a ledger books a completed stream
            assert response.usage_estimated and response.usage_reported
    assert response.stream_complete
    assert response.usage_estimated
    assert response.usage.output_tokens == 2


async def test_openai_cut_stream_estimates_prompt_and_output(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS[:3])], abort=True))
    request = openai_request(stream=True)
    response = await openai(upstream, pool)(request)
    got, error = await read_until_error(response)
    assert len(got) == 3
    assert isinstance(error, StreamInterrupted)
    assert response.usage_reported and response.usage_estimated
    assert response.usage == Usage(
        input_tokens=estimate_prompt_tokens(request.body), output_tokens=2
    )
    assert error.reached_upstream and error.usage_estimate == response.usage
    assert error.model == "gpt-4o-mini-2024-07-18"


async def test_openai_cut_after_usage_keeps_the_exact_usage(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS[:5])], abort=True))
    response = await openai(upstream, pool)(openai_request(stream=True))
    _, error = await read_until_error(response)
    assert not response.usage_estimated
    assert response.usage == Usage(input_tokens=1117, output_tokens=7, cache_read_tokens=1024)
    assert error.usage_estimate == response.usage


async def test_openai_error_chunk_mid_stream_reached_upstream(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    error_chunk = b'data: {"error": {"message": "upstream exploded", "type": "server_error"}}\n\n'
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS[:2]) + error_chunk]))
    response = await openai(upstream, pool)(openai_request(stream=True))
    _, error = await read_until_error(response)
    assert isinstance(error, UpstreamUnavailable)
    assert error.reached_upstream
    # One "Hello" delta: at least one token, and ceil(5 / 4) = 2 by its characters.
    assert error.usage_estimate is not None and error.usage_estimate.output_tokens == 2


async def test_anthropic_error_event_mid_stream_reached_upstream(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    error_event = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.add(Script(chunks=[anthropic_sse([*ANTHROPIC_STREAM_EVENTS[:4], error_event])]))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    _, error = await read_until_error(response)
    assert isinstance(error, UpstreamOverloaded)
    assert error.reached_upstream
    assert error.usage_estimate == response.usage and response.usage_estimated


async def test_silent_stream_timeout_reached_upstream(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    upstream.add(Script(chunks=[body[:40], body[40:]], chunk_delay_s=1.0))
    response = await openai(upstream, pool, timeout_s=0.2)(openai_request(stream=True))
    _, error = await read_until_error(response)
    assert isinstance(error, UpstreamTimeout)
    assert error.reached_upstream
    assert response.usage_estimated


# -- streams the consumer left ---------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_left_stream_is_settled_when_aclose_returns(
    upstream: FakeUpstream, pool: HttpPool, dialect: str
) -> None:
    if dialect == "openai":
        body = openai_sse(OPENAI_STREAM_CHUNKS)
        provider, request = openai(upstream, pool), openai_request(stream=True)
        split = body.index(b"data: ", body.index(b"Hello"))  # role chunk + "Hello"
    else:
        body = anthropic_sse(ANTHROPIC_STREAM_EVENTS)
        provider, request = anthropic(upstream, pool), anthropic_request(stream=True)
        split = body.index(b"event: content_block_delta", body.index(b"Hello"))
    upstream.add(Script(chunks=[body[:split], body[split:]], chunk_delay_s=2.0))
    response = await provider(request)
    stream = response.stream
    assert stream is not None
    first = await stream.__anext__()
    assert first
    assert not response.usage_estimated  # nothing settled while the stream runs
    await stream.aclose()  # type: ignore[attr-defined]
    assert not response.stream_complete
    assert response.usage_reported and response.usage_estimated
    assert response.usage.output_tokens == 2  # the one "Hello" delta: ceil(5 / 4)
    assert response.usage.input_tokens > 0


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_stream_closed_before_reading_is_settled(
    upstream: FakeUpstream, pool: HttpPool, dialect: str
) -> None:
    if dialect == "openai":
        upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)]))
        provider, request = openai(upstream, pool), openai_request(stream=True)
    else:
        upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_STREAM_EVENTS)]))
        provider, request = anthropic(upstream, pool), anthropic_request(stream=True)
    response = await provider(request)
    assert response.stream is not None
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert response.usage_estimated
    assert response.usage == Usage(input_tokens=estimate_prompt_tokens(request.body))


async def test_complete_stream_closed_afterwards_stays_exact(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_STREAM_EVENTS)]))
    response = await anthropic(upstream, pool)(anthropic_request(stream=True))
    await drain(response)
    assert response.stream is not None
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert not response.usage_estimated
    assert response.usage.output_tokens == 15


async def test_complete_openai_stream_without_usage_stays_unreported(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    """A server that ignores include_usage finished its stream: nothing was cut, it just
    does not count; that stays unknown rather than guessed."""
    no_usage = [c for c in OPENAI_STREAM_CHUNKS if c is None or not c.get("usage")]
    upstream.add(Script(chunks=[openai_sse(no_usage)]))
    response = await openai(upstream, pool)(openai_request(stream=True))
    await drain(response)
    assert response.stream_complete
    assert not response.usage_reported and not response.usage_estimated


# -- reached_upstream on failures ------------------------------------------------------------


async def test_non_stream_body_cut_mid_way_reached_upstream(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    import orjson

    payload = orjson.dumps(OPENAI_CACHED_COMPLETION)
    upstream.add(
        Script(
            chunks=[payload[: len(payload) // 2]],
            headers={"Content-Type": "application/json", "Content-Length": str(len(payload))},
            abort=True,
        )
    )
    with pytest.raises(UpstreamUnavailable) as info:
        await openai(upstream, pool)(openai_request())
    assert info.value.reached_upstream
    assert info.value.model == "gpt-4.1"


async def test_non_json_answer_reached_upstream(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=b"<html>oops</html>"))
    with pytest.raises(UpstreamUnavailable) as info:
        await openai(upstream, pool)(openai_request())
    assert info.value.reached_upstream


@pytest.mark.parametrize("stream", [False, True])
async def test_timeout_waiting_for_the_answer_reached_upstream(
    upstream: FakeUpstream, pool: HttpPool, stream: bool
) -> None:
    upstream.add(Script(body={}, chunks=[b""] if stream else None, delay_s=1.0))
    with pytest.raises(UpstreamTimeout) as info:
        await anthropic(upstream, pool, timeout_s=0.2)(anthropic_request(stream=stream))
    assert info.value.reached_upstream


@pytest.mark.parametrize("status", [400, 429, 500, 529])
async def test_error_status_did_not_reach_upstream(
    upstream: FakeUpstream, pool: HttpPool, status: int
) -> None:
    upstream.add(Script(status=status, body={"error": {"message": "no", "type": "x"}}))
    with pytest.raises(UpstreamError) as info:
        await openai(upstream, pool)(openai_request())
    assert not info.value.reached_upstream
    assert info.value.usage_estimate is None


async def test_connection_refused_did_not_reach_upstream(pool: HttpPool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = build_provider(
        "openai", openai_settings(f"http://127.0.0.1:{port}"), pool, api_key=KEY
    )
    with pytest.raises(UpstreamUnavailable) as info:
        await provider(openai_request(stream=True))
    assert not info.value.reached_upstream


def test_which_transport_failures_reached_upstream() -> None:
    import aiohttp

    from thrifty.providers._http import reached_upstream

    # aiohttp raises ConnectionTimeoutError for any timeout while getting a connection.
    assert not reached_upstream(aiohttp.ConnectionTimeoutError("connect"))
    assert not reached_upstream(aiohttp.InvalidURL("nope"))
    assert reached_upstream(aiohttp.SocketTimeoutError("read"))
    assert reached_upstream(TimeoutError())
    assert reached_upstream(aiohttp.ServerDisconnectedError())
