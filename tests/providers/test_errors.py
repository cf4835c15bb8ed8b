"""Upstream failures become typed errors that keep the upstream status and never leak keys."""

from __future__ import annotations

import logging
import socket

import pytest

from thrifty.errors import (
    StreamInterrupted,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from thrifty.providers import HttpPool, build_provider

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
from .wire_payloads import ANTHROPIC_STREAM_EVENTS, anthropic_sse


def openai_error(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_error(message: str, kind: str) -> dict[str, object]:
    return {"type": "error", "error": {"type": kind, "message": message}}


CASES = [
    (401, UpstreamAuthError, "authentication_error"),
    (403, UpstreamAuthError, "permission_error"),
    (400, UpstreamBadRequest, "invalid_request_error"),
    (404, UpstreamBadRequest, "not_found_error"),
    (413, UpstreamBadRequest, "request_too_large"),
    (422, UpstreamBadRequest, "invalid_request_error"),
    (500, UpstreamUnavailable, "api_error"),
    (502, UpstreamUnavailable, "api_error"),
    (503, UpstreamUnavailable, "api_error"),
    (529, UpstreamOverloaded, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "cls", "kind"), CASES)
async def test_anthropic_status_mapping(
    upstream: FakeUpstream, pool: HttpPool, status: int, cls: type[UpstreamError], kind: str
) -> None:
    upstream.add(Script(status=status, body=anthropic_error(f"boom {status}", kind)))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    with pytest.raises(cls) as info:
        await provider(anthropic_request())
    assert info.value.status == status
    assert info.value.provider == "anthropic"
    assert f"boom {status}" in str(info.value)


@pytest.mark.parametrize(("status", "cls", "kind"), CASES)
async def test_openai_status_mapping_on_stream_requests(
    upstream: FakeUpstream, pool: HttpPool, status: int, cls: type[UpstreamError], kind: str
) -> None:
    upstream.add(Script(status=status, body=openai_error(f"bad {status}", kind)))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    with pytest.raises(cls) as info:
        await provider(openai_request(stream=True))
    assert info.value.status == status
    assert f"bad {status}" in str(info.value)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
async def test_rate_limit_keeps_429_and_retry_after(
    upstream: FakeUpstream, pool: HttpPool, headers: dict[str, str], expected: float | None
) -> None:
    body = openai_error("Rate limit reached for gpt-4.1", "requests", "rate_limit_exceeded")
    upstream.add(Script(status=429, body=body, headers=headers))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    with pytest.raises(UpstreamRateLimited) as info:
        await provider(openai_request())
    assert info.value.status == 429
    assert info.value.retry_after_s == expected
    assert "Rate limit reached" in info.value.message


async def test_secrets_never_in_messages_or_logs(
    upstream: FakeUpstream, pool: HttpPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    leaky = openai_error(f"Incorrect API key provided: {KEY}. Bearer {KEY}", "invalid_request")
    upstream.add(Script(status=401, body=leaky))
    upstream.add(Script(status=500, body=b"internal: x-api-key=" + KEY.encode()))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    for _ in range(2):
        with pytest.raises(UpstreamError) as info:
            await provider(openai_request())
        assert KEY not in str(info.value)
        assert KEY not in repr(info.value.args)
        assert "SECRET123456" not in str(info.value)
    assert "[redacted]" in str(info.value)
    assert KEY not in repr(provider)
    assert KEY not in caplog.text


async def test_non_json_error_body_is_kept_as_text(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(status=502, body=b"<html>Bad Gateway</html>"))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    with pytest.raises(UpstreamUnavailable) as info:
        await provider(openai_request())
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)


async def test_connection_refused_is_unavailable_502(pool: HttpPool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = openai_settings(f"http://127.0.0.1:{port}")
    provider = build_provider("openai", settings, pool, api_key=KEY)
    with pytest.raises(UpstreamUnavailable) as info:
        await provider(openai_request())
    assert info.value.status == 502
    assert KEY not in str(info.value)


async def test_slow_answer_times_out_504(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body={}, delay_s=1.0))
    settings = anthropic_settings(upstream.url, timeout_s=0.2)
    provider = build_provider("anthropic", settings, pool, api_key=KEY)
    with pytest.raises(UpstreamTimeout) as info:
        await provider(anthropic_request())
    assert info.value.status == 504


async def test_slow_stream_headers_time_out(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[b""], delay_s=1.0))
    settings = anthropic_settings(upstream.url, timeout_s=0.2)
    provider = build_provider("anthropic", settings, pool, api_key=KEY)
    with pytest.raises(UpstreamTimeout):
        await provider(anthropic_request(stream=True))


async def test_anthropic_error_event_mid_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    body = anthropic_sse([*ANTHROPIC_STREAM_EVENTS[:3], error])
    upstream.add(Script(chunks=[body]))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    with pytest.raises(UpstreamOverloaded) as info:
        await drain(response)
    assert info.value.status == 529
    assert "Overloaded" in str(info.value)
    assert not response.stream_complete


async def test_openai_error_chunk_mid_stream(upstream: FakeUpstream, pool: HttpPool) -> None:
    body = b'data: {"error": {"message": "upstream exploded", "type": "server_error"}}\n\n'
    upstream.add(Script(chunks=[body]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    with pytest.raises(UpstreamUnavailable, match="upstream exploded"):
        await drain(response)


async def test_garbage_in_stream_is_unavailable(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[b"data: {not json\n\n"]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    with pytest.raises(UpstreamUnavailable) as info:
        await drain(response)
    assert not isinstance(info.value, StreamInterrupted)
