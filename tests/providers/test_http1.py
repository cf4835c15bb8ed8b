"""The lean HTTP/1.1 client of the chat calls, against raw loopback servers that answer
exactly as scripted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from thrifty.providers.http1 import ConnectFailed, ResponseCut, ServerDisconnected
from thrifty.providers.http1_pool import Http1Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback server running ``handler`` per connection; every connection it accepted
    is closed on the way out."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/chat/completions?x=1"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # the handlers see their connection close and end


def pool(limit: int = 8) -> Http1Pool:
    return Http1Pool(limit=limit, keepalive_timeout_s=30.0, user_agent="thrifty")


async def post(client: Http1Pool, url: str, body: bytes = b'{"a":1}', **kw: float | None):  # type: ignore[no-untyped-def]
    return await client.request(
        "POST",
        url,
        body,
        {"Authorization": "Bearer k", "Content-Type": "application/json"},
        connect_timeout_s=kw.get("connect", 5.0),
        total_timeout_s=kw.get("total", 5.0),
    )


async def test_request_bytes_and_a_kept_alive_answer_read_whole() -> None:
    seen: list[tuple[bytes, bytes]] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):
            seen.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nX-Request-Id: r1\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    client = pool()
    async with serving(handler) as url:
        for _ in range(2):
            response = await post(client, url)
            assert (response.status, response.headers["x-request-id"]) == (200, "r1")
            assert await response.read() == b"hello"
            response.release()
    client.close()
    assert connections == 1  # the second call reused the first connection
    head, body = seen[0]
    assert head.startswith(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in head and b"\r\nAuthorization: Bearer k\r\n" in head
    assert b"\r\nContent-Length: 7\r\n" in head and body == b'{"a":1}'
    assert b"accept-encoding" not in head.lower()  # answers come uncompressed


async def test_a_chunked_stream_arrives_part_by_part_and_the_connection_is_reused() -> None:
    connections = 0
    go_on = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await go_on.wait()
            writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
            await writer.drain()
            go_on.clear()
        writer.close()

    client = pool()
    async with serving(handler) as url:
        for _ in range(2):
            response = await post(client, url)
            parts = response.iter_chunks(idle_timeout_s=5.0)
            assert await anext(parts) == b"first"
            go_on.set()
            assert [chunk async for chunk in parts] == [b"second"]
            response.release()
    client.close()
    assert connections == 1


def answering_then_silent(start: bytes) -> Handler:
    """A server that sends the start of an answer, then nothing until the client leaves."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(start)
        await writer.drain()
        await reader.read()  # until the client hangs up

    return handler


async def test_silence_mid_stream_is_a_timeout_and_the_connection_is_dropped() -> None:
    start = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n"
    client = pool()
    async with serving(answering_then_silent(start)) as url:
        response = await post(client, url)
        parts = response.iter_chunks(idle_timeout_s=0.2)
        assert await anext(parts) == b"hi"
        with pytest.raises(TimeoutError):
            await anext(parts)
        response.close()
    client.close()


async def test_the_total_deadline_bounds_a_slow_body() -> None:
    client = pool()
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"
    async with serving(answering_then_silent(start)) as url:
        response = await post(client, url, total=0.3)
        with pytest.raises(TimeoutError):
            await response.read()
        response.close()
    client.close()


async def test_a_body_delimited_by_the_close_is_complete_and_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    client = pool()
    async with serving(handler) as url:
        response = await post(client, url)
        assert await response.read() == b"all of it"
        response.release()
        assert client._idle.get(("http", "127.0.0.1", int(url.split(":")[2][:5]))) in (None, [])
    client.close()


async def test_failures_are_typed_by_what_reached_the_server() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async def silent_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    client = pool()
    async with serving(cut) as url:
        response = await post(client, url)
        with pytest.raises(ResponseCut):
            await response.read()
        response.close()
    async with serving(silent_close) as url:
        with pytest.raises(ServerDisconnected) as caught:
            await post(client, url)
        assert not caught.value.reused  # a fresh connection
    async with serving(garbage) as url:
        with pytest.raises(ResponseCut):
            await post(client, url)
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ConnectFailed):
        await post(client, f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ConnectFailed):
        await post(client, "ftp://127.0.0.1/v1")
    client.close()
    assert not client._open  # every failed connection gave its slot back


async def test_a_large_unread_answer_pauses_the_socket_until_it_is_read() -> None:
    size = 8 << 20

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        writer.write(b"x" * size)
        await writer.drain()
        writer.close()

    client = pool()
    async with serving(handler) as url:
        response = await post(client, url)
        await asyncio.sleep(0.3)  # the server writes; the client holds at most ~2 MB unread
        connection = response._connection
        assert connection._buffered <= 3 << 20
        assert len(await response.read()) == size
    client.close()


async def test_connections_beyond_the_limit_wait_for_a_free_slot() -> None:
    release = asyncio.Event()
    in_flight = 0
    most = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, most
        await read_request(reader)
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    client = pool(limit=2)
    async with serving(handler) as url:

        async def call() -> bytes:
            response = await post(client, url)
            body = await response.read()
            response.release()
            return body

        calls = [asyncio.create_task(call()) for _ in range(5)]
        await asyncio.sleep(0.3)
        assert most == 2
        release.set()
        assert await asyncio.gather(*calls) == [b"ok"] * 5
    client.close()
    assert most == 2
