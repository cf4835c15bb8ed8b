"""A server that drops the connection before answering (an idle keep-alive connection closed
just as a request went out) gets the request once more on a fresh connection."""

from __future__ import annotations

import asyncio

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


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


async def answer(writer: asyncio.StreamWriter) -> None:
    body = orjson.dumps(COMPLETION)
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )
    await writer.drain()


class LoopbackServer:
    """``handle`` served on a loopback port for the length of an ``async with``."""

    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class DroppingServer(LoopbackServer):
    """Reads each request; drops the first ``drops`` connections without answering."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await read_request(reader)
        if self.connections <= self.drops:
            writer.close()
            return
        await answer(writer)
        writer.close()


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


class KeepAliveServer(LoopbackServer):
    """Answers on kept-alive connections; once ``stale`` is set, a connection that already
    served a request closes when the next one arrives, unanswered (the server's idle
    timeout fired as the request went out)."""

    def __init__(self) -> None:
        self.stale = False
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                await read_request(reader)
                self.requests += 1
                if self.stale and served:
                    return
                served += 1
                await answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("stale", [1, 3, 4])
async def test_stale_kept_alive_connections_are_tried_up_to_four_times(stale: int) -> None:
    server = KeepAliveServer()
    pool = HttpPool()
    try:
        async with server as url:
            provider = build_provider("openai", openai_settings(url), pool, api_key="k")
            # ``stale`` requests at once leave that many kept-alive connections in the pool.
            await asyncio.gather(*(provider(openai_request()) for _ in range(stale)))
            assert server.connections == stale
            server.stale, server.requests = True, 0
            if stale < 4:  # each stale connection is tried once, then a fresh one answers
                response = await provider(openai_request())
                assert response.usage.input_tokens == 5
                assert server.connections == stale + 1
                assert server.requests == stale + 1
            else:
                with pytest.raises(UpstreamUnavailable) as caught:
                    await provider(openai_request())
                assert caught.value.status == 502
                assert caught.value.reached_upstream
                assert server.requests == 4  # four tries in all, never more
                assert server.connections == 4  # no fresh connection was needed
    finally:
        await pool.aclose()


async def test_an_answer_cut_after_its_head_is_not_retried() -> None:
    """Bytes of the answer arrived: the server processed the request; no second try."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{"id": ')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool()
    try:
        provider = build_provider(
            "openai", openai_settings(f"http://127.0.0.1:{port}"), pool, api_key="k"
        )
        with pytest.raises(UpstreamUnavailable) as caught:
            await provider(openai_request())
        assert caught.value.reached_upstream
        assert "off its answer: ResponseCut" in caught.value.message
        assert connections == 1
    finally:
        await pool.aclose()
        server.close()
        await server.wait_closed()
