"""A server that drops the connection before answering (an idle keep-alive connection closed
just as a request went out) gets the request once more on a fresh connection."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from thrifty.errors import UpstreamUnavailable
from thrifty.providers import HttpPool, build_provider

from .fake_upstream import openai_request, openai_settings

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


class DroppingServer:
    """Reads each request; drops the first ``drops`` connections without answering."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        if self.connections <= self.drops:
            writer.close()
            return
        body = orjson.dumps(COMPLETION)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + b"content-length: %d\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_dropped_connection_is_retried_once() -> None:
    server = DroppingServer(drops=1)
    pool = HttpPool()
    try:
        async with server as url:
            provider = build_provider("openai", openai_settings(url), pool, api_key="k")
            response = await provider(openai_request())
        assert response.body is not None and response.body["choices"][0]["message"]
        assert response.usage.input_tokens == 5
        assert server.connections == 2
    finally:
        await pool.aclose()


async def test_a_second_drop_is_an_upstream_error() -> None:
    server = DroppingServer(drops=5)
    pool = HttpPool()
    try:
        async with server as url:
            provider = build_provider("openai", openai_settings(url), pool, api_key="k")
            with pytest.raises(UpstreamUnavailable) as caught:
                await provider(openai_request())
        assert caught.value.status == 502
        assert server.connections == 2  # one retry, not more
    finally:
        await pool.aclose()


def closing_connection_error() -> aiohttp.ClientOSError:
    """What aiohttp raises when the pooled connection was closing as the request was to be
    written (its cause: the writer's 'Cannot write to closing transport')."""
    error = aiohttp.ClientOSError(None, "Can not write request body for http://upstream")
    error.__cause__ = aiohttp.ClientConnectionResetError("Cannot write to closing transport")
    return error


class FailingFirstPosts:
    """A session stand-in: the first ``failures`` posts raise ``error``, the rest go to the
    real session."""

    def __init__(self, real: aiohttp.ClientSession, error: Exception, failures: int) -> None:
        self.real, self.error, self.failures, self.posts = real, error, failures, 0

    async def post(self, *args: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        self.posts += 1
        if self.posts <= self.failures:
            raise self.error
        return await self.real.post(*args, **kwargs)


@pytest.mark.parametrize("failures", [1, 3, 4])
async def test_a_request_never_written_is_tried_up_to_four_times(
    monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    server = DroppingServer(drops=0)
    pool = HttpPool()
    try:
        async with server as url:
            session = FailingFirstPosts(pool.session(), closing_connection_error(), failures)
            monkeypatch.setattr(pool, "session", lambda: session)
            provider = build_provider("openai", openai_settings(url), pool, api_key="k")
            if failures < 4:  # several stale connections in the pool, one per try
                response = await provider(openai_request())
                assert response.usage.input_tokens == 5
                assert server.connections == 1
            else:
                with pytest.raises(UpstreamUnavailable) as caught:
                    await provider(openai_request())
                assert "Can not write request body" in caught.value.message
                assert server.connections == 0
        assert session.posts == min(failures + 1, 4)
    finally:
        await pool.aclose()


async def test_other_os_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reset after the request went out may follow a request the server processed."""
    server = DroppingServer(drops=0)
    pool = HttpPool()
    try:
        async with server as url:
            reset = aiohttp.ClientOSError(104, "Connection reset by peer")
            session = FailingFirstPosts(pool.session(), reset, 1)
            monkeypatch.setattr(pool, "session", lambda: session)
            provider = build_provider("openai", openai_settings(url), pool, api_key="k")
            with pytest.raises(UpstreamUnavailable) as caught:
                await provider(openai_request())
        assert caught.value.reached_upstream
        assert session.posts == 1
    finally:
        await pool.aclose()
