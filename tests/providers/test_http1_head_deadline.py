"""The lean HTTP/1.1 client's deadline for an answer's head (``head_timeout_s``, else the
exchange's ``total_timeout_s``): on a new connection and on a kept-alive one, a head that
does not come in time is a ``TimeoutError`` and the connection is dropped (never reused,
its slot freed); a head in time disarms it, so a slow body is bound by the total only."""

from __future__ import annotations

import asyncio
import time

import pytest

from thrifty.providers.http1_pool import Http1Pool

from .test_http1 import pool, read_request, serving

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def call(
    client: Http1Pool, url: str, *, head: float | None, total: float | None = 5.0
) -> bytes:
    response = await client.request(
        "POST",
        url,
        b"{}",
        {"Content-Type": "application/json"},
        connect_timeout_s=5.0,
        total_timeout_s=total,
        head_timeout_s=head,
    )
    body = await response.read()
    response.release()
    return body


def answering(silent_from: int, connections: list[int]) -> object:
    """A server that answers each connection's requests until the ``silent_from``-th of
    all requests, which it reads and never answers; ``connections`` counts the
    connections it accepted."""
    seen = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        connections.append(1)
        while True:
            await read_request(reader)
            seen += 1
            if seen == silent_from:
                await reader.read()  # until the client hangs up
                return
            writer.write(OK)
            await writer.drain()

    return handler


async def test_no_head_in_time_on_a_new_connection_is_a_timeout_and_frees_its_slot() -> None:
    connections: list[int] = []
    client = pool(limit=1)
    async with serving(answering(1, connections)) as url:  # type: ignore[arg-type]
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await call(client, url, head=0.2)
        assert 0.15 < time.perf_counter() - started < 2.0
        assert await call(client, url, head=1.0) == b"ok"  # the one slot was freed
    client.close()
    assert len(connections) == 2


async def test_no_head_in_time_on_a_kept_alive_connection_drops_it() -> None:
    connections: list[int] = []
    client = pool()
    async with serving(answering(2, connections)) as url:  # type: ignore[arg-type]
        assert await call(client, url, head=1.0) == b"ok"
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await call(client, url, head=0.2)  # reuses the first call's connection
        assert 0.15 < time.perf_counter() - started < 2.0
        assert await call(client, url, head=1.0) == b"ok"  # on a new connection
    client.close()
    assert len(connections) == 2


async def test_the_total_deadline_bounds_the_head_without_a_head_timeout() -> None:
    connections: list[int] = []
    client = pool()
    async with serving(answering(1, connections)) as url:  # type: ignore[arg-type]
        with pytest.raises(TimeoutError):
            await call(client, url, head=None, total=0.2)
    client.close()


async def test_a_head_in_time_disarms_its_deadline_for_the_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.4)  # the body comes after the head's deadline
            writer.write(b"ok")
            await writer.drain()

    client = pool()
    async with serving(handler) as url:
        for _ in range(2):  # a new connection, then the kept-alive one
            assert await call(client, url, head=0.2, total=5.0) == b"ok"
    client.close()
