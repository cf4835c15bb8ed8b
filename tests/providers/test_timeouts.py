"""Upstream timeouts: short waits catch a hung upstream, long caps leave slow models alone."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from thrifty.config import ProviderSettings
from thrifty.errors import UpstreamTimeout
from thrifty.providers import HttpPool, build_provider

from .fake_upstream import KEY, FakeUpstream, Script, drain, openai_request, openai_settings
from .wire_payloads import OPENAI_CACHED_COMPLETION, OPENAI_STREAM_CHUNKS, openai_sse


def test_defaults_fail_a_hung_upstream_fast_and_a_slow_model_late() -> None:
    settings = ProviderSettings(dialect="openai", base_url="https://api.openai.com/v1")
    assert settings.connect_timeout_s == 5.0
    assert settings.first_byte_timeout_s == 60.0
    assert settings.stream_idle_timeout_s == 300.0
    assert settings.timeout_s == 600.0  # a non-streamed answer: the SDKs' own default
    assert settings.stream_timeout_s == 3600.0
    assert settings.connect_timeout_s * 10 <= settings.first_byte_timeout_s
    assert settings.first_byte_timeout_s * 10 <= settings.timeout_s


async def test_stream_without_headers_times_out_at_first_byte(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)], delay_s=2.0))
    settings = openai_settings(upstream.url, first_byte_timeout_s=0.2)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout, match=r"no response headers within 0\.2s") as caught:
        await provider(openai_request(stream=True))
    assert time.perf_counter() - started < 1.5
    assert caught.value.status == 504
    assert caught.value.reached_upstream  # the request went out: it may be billed


async def test_first_byte_does_not_cut_a_slow_non_streamed_answer(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    """A reasoning model answering without a stream sends nothing until it is done."""
    upstream.add(Script(body=OPENAI_CACHED_COMPLETION, delay_s=0.5))
    settings = openai_settings(upstream.url, first_byte_timeout_s=0.1, stream_idle_timeout_s=0.1)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    response = await provider(openai_request())
    assert response.body is not None


async def test_non_streamed_answer_is_capped_by_timeout_s(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(body=OPENAI_CACHED_COMPLETION, delay_s=2.0))
    provider = build_provider(
        "openai", openai_settings(upstream.url, timeout_s=0.3), pool, api_key=KEY
    )
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout):
        await provider(openai_request())
    assert time.perf_counter() - started < 1.5


async def test_silent_stream_times_out_on_idle(upstream: FakeUpstream, pool: HttpPool) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    upstream.add(Script(chunks=[body[:40], body[40:]], chunk_delay_s=2.0))
    settings = openai_settings(upstream.url, stream_idle_timeout_s=0.2)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout, match=r"went silent mid-stream for 0\.2s"):
        await drain(response)
    assert time.perf_counter() - started < 1.5


async def test_a_stream_that_keeps_talking_is_capped_by_stream_timeout_s(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = openai_sse(OPENAI_STREAM_CHUNKS)
    pieces = [body[i : i + 8] for i in range(0, len(body), 8)]
    upstream.add(Script(chunks=pieces, chunk_delay_s=0.05))
    assert len(pieces) * 0.05 > 1.0  # the whole stream would take longer than the cap
    settings = openai_settings(upstream.url, stream_timeout_s=0.5, stream_idle_timeout_s=0.3)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    response = await provider(openai_request(stream=True))
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout, match=r"did not finish its stream within 0\.5s"):
        await drain(response)
    assert time.perf_counter() - started < 1.5


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops further SYNs, so a connect
    hangs as it would to a black-holed host."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_connect_timeout(pool: HttpPool, unanswered_port: int) -> None:
    settings = openai_settings(f"http://127.0.0.1:{unanswered_port}", connect_timeout_s=0.3)
    provider = build_provider("openai", settings, pool, api_key=KEY)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout) as caught:
        await provider(openai_request())
    assert time.perf_counter() - started < 2.0
    assert not caught.value.reached_upstream  # never connected: nothing can be billed
