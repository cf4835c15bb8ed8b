"""Both providers against a scripted loopback upstream replaying documented payloads."""

from __future__ import annotations

import asyncio

import pytest

from thrifty.errors import StreamInterrupted, UpstreamTimeout, UpstreamUnavailable
from thrifty.providers import HttpPool, build_provider
from thrifty.types import StreamEvent, Usage

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
    OPENAI_CACHED_COMPLETION,
    OPENAI_STREAM_CHUNKS,
    anthropic_sse,
    openai_sse,
)


async def test_openai_non_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=OPENAI_CACHED_COMPLETION))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request())
    seen = upstream.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "gpt-4.1"
    assert "stream" not in seen.body and "stream_options" not in seen.body
    assert response.body == OPENAI_CACHED_COMPLETION
    assert response.usage == Usage(input_tokens=2006, output_tokens=300, cache_read_tokens=1920)
    assert (response.dialect, response.provider) == ("openai", "openai")
    assert response.model == "gpt-4.1-2025-04-14"  # as the upstream reported it
    assert response.upstream_latency_s is not None and response.upstream_latency_s >= 0


async def test_no_key_sends_no_auth_header(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=OPENAI_CACHED_COMPLETION))
    upstream.add(Script(body=ANTHROPIC_CACHED_MESSAGE))
    await build_provider("local", openai_settings(upstream.url), pool, api_key=None)(
        openai_request()
    )
    await build_provider("a", anthropic_settings(upstream.url), pool, api_key=None)(
        anthropic_request()
    )
    assert "Authorization" not in upstream.seen[0].headers
    assert "x-api-key" not in upstream.seen[1].headers


async def test_anthropic_non_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=ANTHROPIC_CACHED_MESSAGE))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request())
    seen = upstream.seen[0]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body["model"] == "claude-x"
    assert response.body == ANTHROPIC_CACHED_MESSAGE
    assert response.usage == Usage(
        input_tokens=21 + 188086, output_tokens=393, cache_write_5m_tokens=188086
    )


async def test_openai_stream_hides_usage_chunk_app_did_not_ask_for(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    upstream.add(Script(chunks=[body[i : i + 37] for i in range(0, len(body), 37)]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    assert upstream.seen[0].body["stream_options"] == {"include_usage": True}
    events = await drain(response)
    assert all(e.data is None or e.data["choices"] for e in events)
    assert events[-1].data is None and events[-1].raw == b"data: [DONE]\n\n"
    assert len(events) == 5
    assert response.stream_complete
    assert response.usage == Usage(input_tokens=1117, output_tokens=7, cache_read_tokens=1024)


async def test_openai_stream_passes_raw_bytes_and_usage_chunk_when_asked(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    upstream.add(Script(chunks=[body]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    request = openai_request(stream=True, stream_options={"include_usage": True})
    events = await drain(await provider(request))
    assert b"".join(e.raw for e in events) == body


async def test_anthropic_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    body = anthropic_sse(ANTHROPIC_STREAM_EVENTS)
    upstream.add(Script(chunks=[body[i : i + 50] for i in range(0, len(body), 50)]))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    assert upstream.seen[0].body["stream"] is True
    assert response.usage == Usage()  # nothing read yet
    events = await drain(response)
    assert b"".join(e.raw for e in events) == body
    assert response.stream_complete
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.usage == Usage(
        input_tokens=25 + 2048 + 300,
        output_tokens=15,
        cache_read_tokens=2048,
        cache_write_5m_tokens=100,
        cache_write_1h_tokens=200,
    )


async def test_stream_ending_early_raises_after_yielding(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = anthropic_sse(ANTHROPIC_STREAM_EVENTS[:4])
    upstream.add(Script(chunks=[body]))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    got: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted):
        assert response.stream is not None
        async for batch in response.stream:
            got.extend(batch)
    assert len(got) == 4
    assert not response.stream_complete
    assert response.usage.cache_read_tokens == 2048  # what arrived is still counted


async def test_connection_dropped_mid_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS[:2])
    upstream.add(Script(chunks=[body], abort=True))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    got: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted):
        assert response.stream is not None
        async for batch in response.stream:
            got.extend(batch)
    assert len(got) == 2
    assert not response.stream_complete


async def test_silent_stream_times_out(upstream: FakeUpstream, pool: HttpPool) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    upstream.add(Script(chunks=[body[:40], body[40:]], chunk_delay_s=1.0))
    settings = openai_settings(upstream.url, timeout_s=0.2)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    with pytest.raises(UpstreamTimeout):
        await drain(response)


async def test_consumer_stopping_releases_connection(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = anthropic_sse(ANTHROPIC_STREAM_EVENTS)
    first_event = body.index(b"\n\n") + 2  # the first read holds exactly one event
    upstream.add(Script(chunks=[body[:first_event], body[first_event:]], chunk_delay_s=0.5))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    stream = response.stream
    assert stream is not None
    await stream.__anext__()
    await stream.aclose()  # type: ignore[attr-defined]
    assert not response.stream_complete
    connector = pool.session().connector
    assert connector is not None
    await asyncio.sleep(0)
    assert len(connector._acquired) == 0  # the upstream connection went back


async def test_never_iterated_stream_can_be_closed(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_STREAM_EVENTS)]))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    assert response.stream is not None
    await response.stream.aclose()  # type: ignore[attr-defined]
    connector = pool.session().connector
    assert connector is not None
    assert len(connector._acquired) == 0


async def test_session_is_reused(upstream: FakeUpstream, pool: HttpPool) -> None:
    for _ in range(3):
        upstream.add(Script(body=OPENAI_CACHED_COMPLETION))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    session = pool.session()
    for _ in range(3):
        await provider(openai_request())
    assert pool.session() is session


async def test_malformed_event_data_is_an_upstream_error(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[b"data: {nope\n\n"]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    with pytest.raises(UpstreamUnavailable, match="not JSON"):
        await drain(response)


async def test_usage_reported_flag_follows_the_upstream(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    """A server that sends no usage (ignoring include_usage) must not look like 0 tokens."""
    no_usage = [c for c in OPENAI_STREAM_CHUNKS if c is None or not c.get("usage")]
    upstream.add(Script(chunks=[openai_sse(no_usage)]))
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)]))
    bare = {k: v for k, v in OPENAI_CACHED_COMPLETION.items() if k != "usage"}
    upstream.add(Script(body=bare))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    silent = await provider(openai_request(stream=True))
    await drain(silent)
    assert silent.stream_complete and not silent.usage_reported
    reported = await provider(openai_request(stream=True))
    await drain(reported)
    assert reported.usage_reported
    whole = await provider(openai_request())
    assert not whole.usage_reported


def test_pool_used_from_a_second_event_loop_closes_the_first_session() -> None:
    import asyncio

    pool = HttpPool()

    async def grab() -> object:
        return pool.session()

    first = asyncio.run(grab())
    second = asyncio.run(grab())
    assert first is not second
    assert first.closed  # type: ignore[attr-defined]
    asyncio.run(pool.aclose())


async def test_credentials_in_base_url_are_sent_as_basic_auth(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    """Defect: `http://user:pass@host` broke requests next to an API key (aiohttp refuses
    both) and leaked in errors.  Credentials become a Basic auth header; the URL the
    provider shows has none."""
    import base64

    from thrifty.errors import ConfigError

    url = upstream.url.replace("http://", "http://me:s%40cret@")
    upstream.add(Script(body=ANTHROPIC_CACHED_MESSAGE))
    provider = build_provider("a", anthropic_settings(url), pool, api_key="sk-ant-key")
    assert "s@cret" not in repr(provider) and "me:" not in repr(provider)
    await provider(anthropic_request())
    seen = upstream.seen[0].headers
    assert seen["x-api-key"] == "sk-ant-key"
    assert seen["Authorization"] == "Basic " + base64.b64encode(b"me:s@cret").decode()

    upstream.add(Script(body=OPENAI_CACHED_COMPLETION))
    keyless = build_provider("local", openai_settings(url), pool, api_key=None)
    await keyless(openai_request())
    assert upstream.seen[1].headers["Authorization"].startswith("Basic ")

    with pytest.raises(ConfigError, match="carries credentials"):
        build_provider("o", openai_settings(url), pool, api_key="sk-openai-key")
