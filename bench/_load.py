"""A lean HTTP/1.1 load generator: keep-alive connections, one request in flight on each,
the request bytes built once, responses parsed only as far as their end.

Thousands of requests in flight on 2 shared cores: a general-purpose client (aiohttp)
spends about as much CPU per request as the gateway it measures, so the rig, not the system
under test, sets the throughput.  This client costs a few tens of microseconds a request,
which leaves the cores to the upstream and the gateway being compared.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast
from urllib.parse import urlsplit

import orjson


def request_bytes(url: str, body: object) -> tuple[str, int, bytes]:
    """(host, port, the full POST request) for ``url`` with a JSON ``body``."""
    parts = urlsplit(url)
    payload = orjson.dumps(body)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Authorization: Bearer bench\r\n\r\n"
    )
    return parts.hostname or "127.0.0.1", parts.port or 80, head.encode() + payload


class _Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`send` resolves with the response's status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.done: asyncio.Future[int] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed mid-response"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.buffer.clear()
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        status = _complete(self.buffer)
        if status is not None and self.done is not None and not self.done.done():
            self.done.set_result(status)


def _complete(buffer: bytearray) -> int | None:
    """The status once ``buffer`` holds a whole response, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    status = int(head[9:12])
    marker = head.find(b"content-length:")
    if marker >= 0:
        line_end = head.find(b"\r\n", marker)
        length = int(head[marker + 15 : line_end if line_end >= 0 else None])
        return status if len(buffer) >= end + 4 + length else None
    if b"transfer-encoding: chunked" in head:
        return status if buffer.endswith(b"0\r\n\r\n") else None
    return None


async def run_load(
    url: str,
    body: object,
    concurrency: int,
    seconds: float,
    connect_timeout: float = 30.0,
    stagger: float = 0.0,
) -> tuple[float, int]:
    """(successful responses per second, errors) keeping ``concurrency`` requests in
    flight for ``seconds``.  Every connection is opened and used once before the clock
    starts (a gateway in service holds warm connections; opening 1,000 at once is a
    different benchmark), and only responses that finish inside the window count.

    ``stagger`` (seconds): the workers' first requests are spread evenly over it, and the
    window opens once it has passed.  With 0 every worker starts at the same instant, and a
    constant upstream latency then keeps the requests in lock-step waves (all of them
    arriving at once, every cycle), which real traffic does not do."""
    host, port, request = request_bytes(url, body)
    loop = asyncio.get_running_loop()
    ok = errors = 0
    deadline = float("inf")
    opened = float("inf")  # responses finishing before this (the stagger) do not count
    warm = 0
    all_warm = asyncio.Event()

    async def connect() -> _Connection:
        _, fresh = await asyncio.wait_for(
            loop.create_connection(_Connection, host, port), connect_timeout
        )
        return fresh

    async def exchange(connection: _Connection | None) -> tuple[_Connection, int]:
        reused = connection is not None and not connection.closed.done()
        if connection is None or not reused:
            connection = await connect()
        try:
            return connection, await asyncio.wait_for(connection.send(request), 120)
        except ConnectionError:
            if not reused or connection.buffer:
                raise
        # A kept-alive connection the server closed while it was idle, before any byte of
        # the answer: sent again on a fresh one, as HTTP clients do.
        connection = await connect()
        return connection, await asyncio.wait_for(connection.send(request), 120)

    async def worker(offset: float) -> None:
        nonlocal ok, errors, warm
        connection: _Connection | None = None
        try:
            connection, _ = await exchange(None)
        except (OSError, ConnectionError, TimeoutError):
            connection = None
        warm += 1
        if warm == concurrency:
            all_warm.set()
        await all_warm.wait()
        if offset:
            await asyncio.sleep(offset)
        while time.monotonic() < deadline:
            try:
                connection, status = await exchange(connection)
            except (OSError, ConnectionError, TimeoutError):
                errors += 1
                connection = None
                continue
            finished = time.monotonic()
            if finished > deadline:
                break  # finished after the window: not counted
            if finished < opened:
                continue  # finished while the first requests were still being spread
            if status == 200:
                ok += 1
            else:
                errors += 1
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    async def clock() -> None:
        nonlocal deadline, opened
        await all_warm.wait()
        opened = time.monotonic() + stagger
        deadline = opened + seconds

    offsets = first_request_offsets(concurrency, stagger)
    await asyncio.gather(clock(), *(worker(offset) for offset in offsets))
    return ok / seconds, errors


def first_request_offsets(concurrency: int, stagger: float) -> list[float]:
    """When each worker sends its first request, in seconds after all are warm: evenly
    over ``stagger`` (all at 0 with no stagger)."""
    return [stagger * index / concurrency for index in range(concurrency)]
