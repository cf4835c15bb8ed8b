"""Both providers against the bundled upstream simulator (thrifty.sim) on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from thrifty.config import ProviderSettings
from thrifty.errors import (
    StreamInterrupted,
    UpstreamAuthError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from thrifty.providers import HttpPool, Provider, build_provider
from thrifty.sim import SimConfig, SimServer
from thrifty.types import ChatRequest, ChatResponse, Dialect, StreamEvent

KEY = "sk-test-SECRET123456"
# Over the 1024-token caching minimum, so a repeat is a cache hit.
LONG = "Summarise the history of the printing press in Europe. " * 150


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig()) as server:
        yield server


def provider_for(
    sim: SimServer, pool: HttpPool, dialect: Dialect, key: str | None = KEY, **kw: Any
) -> Provider:
    base = sim.openai_base_url if dialect == "openai" else sim.base_url
    settings = ProviderSettings(dialect=dialect, base_url=base, **kw)
    return build_provider(f"sim-{dialect}", settings, pool, api_key=key)


def request(
    app: Dialect, text: str = "Say hello.", stream: bool = False, **extra: Any
) -> ChatRequest:
    model = "claude-sonnet-4-5" if app == "anthropic" else "gpt-4o-mini"
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if app == "anthropic":
        body["max_tokens"] = 128
    if stream:
        body["stream"] = True
    body.update(extra)
    return ChatRequest(dialect=app, body=body, model=model, requested_model=model, stream=stream)


async def drain(response: ChatResponse) -> list[StreamEvent]:
    assert response.stream is not None
    return [e async for batch in response.stream for e in batch]


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_non_stream(sim: SimServer, pool: HttpPool, dialect: Dialect) -> None:
    provider = provider_for(sim, pool, dialect)
    response = await provider(request(dialect))
    assert response.dialect == dialect
    if dialect == "openai":
        ChatCompletion.model_validate(response.body)
    else:
        Message.model_validate(response.body)
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_stream_usage_matches_non_stream(
    sim: SimServer, pool: HttpPool, dialect: Dialect
) -> None:
    provider = provider_for(sim, pool, dialect)
    plain = await provider(request(dialect, "Name three rivers."))
    streamed = await provider(request(dialect, "Name three rivers.", stream=True))
    events = await drain(streamed)
    assert streamed.stream_complete
    assert events
    assert streamed.usage.input_tokens == plain.usage.input_tokens
    assert streamed.usage.output_tokens > 0


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
async def test_prompt_cache_usage(
    sim: SimServer, pool: HttpPool, dialect: Dialect, stream: bool
) -> None:
    provider = provider_for(sim, pool, dialect)
    extra: dict[str, Any] = {}
    if dialect == "anthropic":
        extra["system"] = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
        text = "Go."
    else:
        text = LONG
    usages = []
    for _ in range(2):
        response = await provider(request(dialect, text, stream=stream, **extra))
        if stream:
            await drain(response)
        usages.append(response.usage)
    first, second = usages
    assert second.cache_read_tokens > 0
    # Cached tokens are part of the input, never on top of it.
    assert second.input_tokens == first.input_tokens
    if dialect == "anthropic":
        assert first.cache_write_tokens > 0


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("fault", "cls", "status"),
    [
        ("429", UpstreamRateLimited, 429),
        ("500", UpstreamUnavailable, 500),
        ("503", UpstreamUnavailable, 503),
        ("529", UpstreamOverloaded, 529),
    ],
)
async def test_status_faults_keep_status(
    sim: SimServer,
    pool: HttpPool,
    dialect: Dialect,
    fault: str,
    cls: type[UpstreamError],
    status: int,
) -> None:
    provider = provider_for(sim, pool, dialect)
    with pytest.raises(cls) as info:
        await provider(request(dialect, f"hi [[sim:fault={fault}]]"))
    assert info.value.status == status
    if fault == "429":
        assert isinstance(info.value, UpstreamRateLimited)
        assert info.value.retry_after_s is not None


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_cut_stream_raises_stream_interrupted(
    sim: SimServer, pool: HttpPool, dialect: Dialect
) -> None:
    provider = provider_for(sim, pool, dialect)
    response = await provider(request(dialect, "Tell a story. [[sim:fault=cut]]", stream=True))
    with pytest.raises(StreamInterrupted):
        await drain(response)
    assert not response.stream_complete


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
async def test_timeout(sim: SimServer, pool: HttpPool, dialect: Dialect, stream: bool) -> None:
    provider = provider_for(sim, pool, dialect, timeout_s=0.3)
    with pytest.raises(UpstreamTimeout) as info:
        response = await provider(request(dialect, "hi [[sim:fault=timeout]]", stream=stream))
        await drain(response)
    assert info.value.status == 504


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_bad_key_is_auth_error(sim: SimServer, pool: HttpPool, dialect: Dialect) -> None:
    provider = provider_for(sim, pool, dialect, key="sim-bad-key")
    with pytest.raises(UpstreamAuthError) as info:
        await provider(request(dialect))
    assert info.value.status == 401
    assert "sim-bad-key" not in str(info.value)


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_secret_never_leaks(
    sim: SimServer, pool: HttpPool, dialect: Dialect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = provider_for(sim, pool, dialect)
    for fault in ("429", "500", "529"):
        with pytest.raises(UpstreamError) as info:
            await provider(request(dialect, f"{KEY} [[sim:fault={fault}]]"))
        assert KEY not in str(info.value)
    assert KEY not in caplog.text


@pytest.mark.parametrize(("app", "upstream"), [("openai", "anthropic"), ("anthropic", "openai")])
@pytest.mark.parametrize("stream", [False, True])
async def test_cross_dialect(
    sim: SimServer, pool: HttpPool, app: Dialect, upstream: Dialect, stream: bool
) -> None:
    provider = provider_for(sim, pool, upstream)
    extra = {"stream_options": {"include_usage": True}} if app == "openai" and stream else {}
    body_request = request(app, "Name three rivers.", stream=stream, **extra)
    response = await provider(body_request)
    assert response.dialect == app
    if not stream:
        if app == "openai":
            completion = ChatCompletion.model_validate(response.body)
            assert completion.choices[0].message.content
        else:
            message = Message.model_validate(response.body)
            assert message.content and message.content[0].type == "text"
    else:
        events = await drain(response)
        assert response.stream_complete
        if app == "openai":
            assert events[-1].data is None
            usage_chunk = events[-2].data
            assert usage_chunk is not None and usage_chunk["choices"] == []
            assert usage_chunk["usage"]["prompt_tokens"] == response.usage.input_tokens
        else:
            assert [e.event for e in events][-1] == "message_stop"
            assert events[0].event == "message_start"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


# -- billing facts, end to end -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "asked", "reported"),
    [
        ("openai", None, "default"),
        ("openai", "priority", "priority"),
        ("openai", "flex", "flex"),
        ("anthropic", None, "standard"),
        ("anthropic", "priority", "priority"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_service_tier_is_what_the_upstream_reports(
    sim: SimServer,
    pool: HttpPool,
    dialect: Dialect,
    asked: str | None,
    reported: str,
    stream: bool,
) -> None:
    extra = {"service_tier": asked} if asked else {}
    response = await provider_for(sim, pool, dialect)(request(dialect, stream=stream, **extra))
    if stream:
        await drain(response)
    assert response.service_tier == reported
    assert response.server_tools == {}


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_web_search_is_counted(
    sim: SimServer, pool: HttpPool, stream: bool
) -> None:
    tool = {"type": "web_search_20250305", "name": "web_search"}
    response = await provider_for(sim, pool, "anthropic")(
        request("anthropic", "News from Lyon?", stream=stream, tools=[tool])
    )
    if stream:
        await drain(response)
        assert not response.usage_estimated
    assert response.server_tools == {"web_search": 1}


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_search_model_is_counted(sim: SimServer, pool: HttpPool, stream: bool) -> None:
    model = "gpt-4o-search-preview"
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "News from Lyon?"}],
        "web_search_options": {},
    }
    if stream:
        body["stream"] = True
    response = await provider_for(sim, pool, "openai")(
        ChatRequest(dialect="openai", body=body, model=model, requested_model=model, stream=stream)
    )
    if stream:
        await drain(response)
    assert response.server_tools == {"web_search": 1}
    assert response.service_tier == "default"


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_cut_stream_is_booked_as_an_estimate(
    sim: SimServer, pool: HttpPool, dialect: Dialect
) -> None:
    provider = provider_for(sim, pool, dialect)
    whole = await provider(request(dialect, "Tell a story.", stream=True))
    await drain(whole)
    assert not whole.usage_estimated
    # The same prompt (so the same answer), cut by the simulator half-way.
    asked = request(dialect, "Tell a story.", stream=True)
    cut = await provider(replace(asked, upstream_headers=(("x-sim-fault", "cut"),)))
    got: list[StreamEvent] = []
    assert cut.stream is not None
    with pytest.raises(StreamInterrupted) as info:
        async for batch in cut.stream:
            got.extend(batch)
    assert got
    assert cut.usage_reported and cut.usage_estimated
    # The simulator sent half the deltas: a positive output below the whole answer's.
    assert 0 < cut.usage.output_tokens < whole.usage.output_tokens
    if dialect == "anthropic":
        assert cut.usage.input_tokens == whole.usage.input_tokens  # message_start's, exact
    else:
        assert cut.usage.input_tokens > 0  # estimated from the request text
    assert info.value.reached_upstream
    assert info.value.usage_estimate == cut.usage
    assert info.value.model == cut.model


async def test_cut_stream_after_a_search_counts_the_search(sim: SimServer, pool: HttpPool) -> None:
    tool = {"type": "web_search_20250305", "name": "web_search"}
    response = await provider_for(sim, pool, "anthropic")(
        request("anthropic", "News? [[sim:fault=cut]]", stream=True, tools=[tool])
    )
    with pytest.raises(StreamInterrupted):
        await drain(response)
    assert response.usage_estimated
    assert response.server_tools == {"web_search": 1}


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_cut_body_reached_upstream(sim: SimServer, pool: HttpPool, dialect: Dialect) -> None:
    with pytest.raises(UpstreamUnavailable) as info:
        await provider_for(sim, pool, dialect)(request(dialect, "hi [[sim:fault=cut]]"))
    assert info.value.reached_upstream


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
async def test_timeout_reached_upstream(
    sim: SimServer, pool: HttpPool, dialect: Dialect, stream: bool
) -> None:
    provider = provider_for(sim, pool, dialect, timeout_s=0.3)
    with pytest.raises(UpstreamTimeout) as info:
        await provider(request(dialect, "hi [[sim:fault=timeout]]", stream=stream))
    assert info.value.reached_upstream


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_status_faults_did_not_reach_upstream(
    sim: SimServer, pool: HttpPool, dialect: Dialect
) -> None:
    for fault in ("429", "500", "529"):
        with pytest.raises(UpstreamError) as info:
            await provider_for(sim, pool, dialect)(request(dialect, f"hi [[sim:fault={fault}]]"))
        assert not info.value.reached_upstream


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_stream_left_by_the_client_is_estimated_once_closed(
    pool: HttpPool, dialect: Dialect
) -> None:
    async with SimServer(SimConfig(stream_chunk_delay_ms=20)) as slow:
        provider = provider_for(slow, pool, dialect)
        response = await provider(request(dialect, "Tell a long story.", stream=True))
        stream = response.stream
        assert stream is not None
        got: list[StreamEvent] = []
        while len(got) < 4:
            got.extend(await stream.__anext__())
        await stream.aclose()  # type: ignore[attr-defined]
        assert not response.stream_complete
        assert response.usage_reported and response.usage_estimated
        assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
