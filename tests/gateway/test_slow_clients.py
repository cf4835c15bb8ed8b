"""Slow clients: a request that is not sent in time is answered 408 and its connection closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message, Receive, Scope, Send

from thrifty.serving import RunningServer, start_server


class Echo:
    """Reads the whole body and answers its length; remembers what the app saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                self.seen.append("disconnect")
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append(f"body {len(body)}")
        answer = str(len(body)).encode()
        headers = [(b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


LIMIT = 0.4


@pytest.fixture
async def echo() -> Echo:
    return Echo()


@pytest.fixture
async def server(echo: Echo) -> AsyncIterator[RunningServer]:
    running = await start_server(
        echo, header_timeout_s=LIMIT, body_timeout_s=LIMIT, keep_alive_s=1, max_header_bytes=4096
    )
    try:
        yield running
    finally:
        await running.stop()


async def _send_then_wait(
    server: RunningServer, data: bytes, wait: float = 5.0
) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; (what it sent, seconds it took)."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        started = time.perf_counter()
        answer = await asyncio.wait_for(reader.read(), wait)
        return answer, time.perf_counter() - started
    finally:
        writer.close()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",
    ],
    ids=["nothing", "half-headers", "half-body"],
)
async def test_a_half_sent_request_is_closed_with_a_408(
    server: RunningServer, echo: Echo, data: bytes
) -> None:
    answer, took = await _send_then_wait(server, data)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert LIMIT * 0.8 < took < LIMIT + 1.0
    if b"Content-Length" in data:
        await asyncio.sleep(0.05)
        assert echo.seen == ["disconnect"]  # the app waiting for the body was told


async def test_trickling_bytes_does_not_extend_the_deadline(server: RunningServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.perf_counter()
    try:
        for byte in b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            if reader.at_eof() or writer.is_closing():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
            if time.perf_counter() - started > 3:
                break
        answer = await asyncio.wait_for(reader.read(), 3)
    except ConnectionError:
        answer = b""
    finally:
        writer.close()
    assert time.perf_counter() - started < LIMIT + 1.0
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


async def test_300_half_sent_requests_are_all_closed(server: RunningServer) -> None:
    results = await asyncio.gather(
        *(
            _send_then_wait(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            for _ in range(300)
        )
    )
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer, _ in results)
    assert max(took for _, took in results) < LIMIT + 2.0


async def test_oversized_headers_are_a_431(server: RunningServer) -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n"
    answer, took = await _send_then_wait(server, data)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert took < LIMIT


async def test_complete_requests_on_a_kept_alive_connection_still_work(
    server: RunningServer, echo: Echo
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    try:
        for _ in range(3):
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await asyncio.wait_for(reader.readexactly(1), 2) == b"5"
            # idle longer than the header deadline, shorter than keep-alive: the
            # connection is still usable (the deadline starts at the next request's byte)
            await asyncio.sleep(LIMIT + 0.2)
    finally:
        writer.close()
    assert echo.seen == ["body 5"] * 3


async def test_a_large_body_sent_promptly_is_read(server: RunningServer, echo: Echo) -> None:
    body = b"x" * 2_000_000
    data = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(
        body
    )
    answer, _ = await _send_then_wait(server, data + body)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"2000000")


async def test_headers_growing_over_several_reads_are_a_431(server: RunningServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for i in range(4):
            writer.write(b"X-Part-%d: %s\r\n" % (i, b"a" * 1500))
            await writer.drain()
            await asyncio.sleep(0.02)
        answer = await asyncio.wait_for(reader.read(), 2)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    "second",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe",
    ],
    ids=["half-headers", "half-body"],
)
async def test_a_half_sent_request_on_a_kept_alive_connection_is_a_408(
    server: RunningServer, echo: Echo, second: bytes
) -> None:
    """A deadline is armed only when a read leaves a request incomplete: the next
    request on a kept-alive connection gets one too."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await asyncio.wait_for(reader.readexactly(1), 2) == b"5"
        writer.write(second)
        started = time.perf_counter()
        answer = await asyncio.wait_for(reader.read(), 5)
        took = time.perf_counter() - started
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert LIMIT * 0.8 < took < LIMIT + 1.0
