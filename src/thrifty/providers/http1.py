"""A lean HTTP/1.1 client for the calls on the hot path: one POST, its answer read whole
or as a stream, over pooled keep-alive connections.

Why not aiohttp here: at a thousand calls in flight the gateway is bound by its own CPU,
and aiohttp's request machinery (URL and header objects, payload wrappers, timers, trace
hooks, its stream reader) cost about 0.28 ms a call on this project's machines, a fifth of
everything the gateway spends on a call; this client costs about a tenth of that
(docs/architecture.md, "Dependencies").  Parsing is httptools (the parser uvicorn serves
with); what is left here is the pool and the flow of bytes.  aiohttp still serves every
other upstream exchange (file uploads, listings, auxiliary endpoints).

Scope, on purpose: ``http`` and ``https`` origins, no proxies, no redirects, no
compression (no ``Accept-Encoding`` is sent, so answers come as identity), no
``Expect: 100-continue``.  Errors are typed by what reached the server:
:class:`ConnectFailed` (nothing was sent), :class:`ServerDisconnected` (the request went
out and the connection closed before any byte of the answer), :class:`ResponseCut`
(closed mid-answer); timeouts are :class:`TimeoutError`.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, cast

import httptools
from multidict import CIMultiDict

if TYPE_CHECKING:
    from thrifty.providers.http1_pool import Http1Pool

__all__ = [
    "AnswerTooLarge",
    "ConnectFailed",
    "ConnectTimeout",
    "Connection",
    "Http1Error",
    "Response",
    "ResponseCut",
    "ServerDisconnected",
]

_HIGH_WATER = 1 << 20  # bytes of an answer held unread before the socket is paused
Origin = tuple[str, str, int]  # (scheme, host, port)


class Http1Error(Exception):
    """A transport failure of an upstream exchange."""


class ConnectFailed(Http1Error):
    """No connection could be made (refused, DNS, TLS, unreachable): nothing was sent."""


class ConnectTimeout(ConnectFailed, TimeoutError):
    """The connection was not made in time: nothing was sent."""


class ServerDisconnected(Http1Error):
    """The connection closed after the request was written, before any byte of the answer.
    ``reused``: on a kept-alive connection that had served an earlier exchange (a server
    closing it while idle is the usual cause)."""

    def __init__(self, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.reused = reused


class AnswerTooLarge(Http1Error):
    """The answer's body is over the size the caller reads (by its ``Content-Length``, or
    while reading): the connection is dropped, never more than that is held."""


class ResponseCut(Http1Error):
    """The connection closed, or the answer was malformed, before the answer's end."""


def expire_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time."""

    def __init__(self, origin: Origin, on_lost: Callable[[Connection], None]) -> None:
        self.origin = origin
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        # The parser calls back into this connection, which holds it: dropped once the
        # connection is lost, so that a closed connection is freed by reference counting
        # (not left in a cycle for the collector: one a call whose client left).
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.status = 0  # the status of the answer being read, once its head arrived
        self.closed = False
        self.idle_since = 0.0
        self._loop = asyncio.get_running_loop()
        self._head: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self.complete = False
        self.failure: Http1Error | None = None
        self.got_bytes = False
        self.exchanges = 0
        self.keep_alive = False

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        parser = self.parser
        if parser is None:  # lost: nothing more is read
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ResponseCut(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.parser = None
        self._on_lost(self)
        if self.complete:
            return
        head = self._head
        # (A head future cancelled with its call, the app's client having left, is done
        # too: asking it for its exception would raise CancelledError in this callback.)
        if head is not None and head.done() and not head.cancelled() and not head.exception():
            length = self.headers.get("content-length")
            chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            if length is None and not chunked:  # a body delimited by the close: complete
                self.complete = True
                self._wake()
                return
        if not self.got_bytes:
            self._fail(
                ServerDisconnected(
                    "the server closed the connection before answering",
                    reused=self.exchanges > 1,
                )
            )
        else:
            self._fail(ResponseCut("the server closed the connection mid-answer"))

    # -- httptools callbacks -------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:  # whole: httptools joins parts
        self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None  # (a parser callback: the parser is there)
        self.status = parser.get_status_code()
        self.keep_alive = parser.should_keep_alive()  # known here, not at the end
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- the exchange --------------------------------------------------------------------

    def _fail(self, error: Http1Error) -> None:
        self.failure = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send(self, request: bytes) -> asyncio.Future[None]:
        """Write ``request``; the future resolves when the answer's head has arrived."""
        assert self.transport is not None
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers = CIMultiDict()
        self.chunks.clear()
        self._buffered = 0
        self.complete = False
        self.failure = None
        self.got_bytes = False
        self.keep_alive = False
        self.exchanges += 1
        self._head = self._loop.create_future()
        self.transport.write(request)
        return self._head

    async def next_chunk(self, limit: float | None = None) -> bytes | None:
        """The next part of the body, ``None`` at its end; ``TimeoutError`` if nothing came
        by ``limit`` (event-loop time).  One timer handle a wait: an ``asyncio.timeout``
        context costs several times more, and a stream waits once per part."""
        while not self.chunks:
            if self.complete:
                return None
            if self.failure is not None:
                raise self.failure
            waiter = self._waiter = self._loop.create_future()
            timer = None if limit is None else self._loop.call_at(limit, expire_waiter, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        chunk = self.chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def reusable(self) -> bool:
        return self.complete and not self.closed and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """An answer whose head has arrived: ``status``, ``headers``, then the body through
    :meth:`read` or :meth:`iter_chunks`; :meth:`release` hands a fully read connection
    back to the pool, :meth:`close` drops it."""

    __slots__ = ("_connection", "_deadline", "_pool", "closed", "headers", "status")

    def __init__(self, connection: Connection, pool: Http1Pool, deadline: float | None) -> None:
        self._connection = connection
        self._pool = pool
        self._deadline = deadline
        self.status: int = connection.status
        self.headers: Mapping[str, str] = connection.headers
        self.closed = False

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (bounded by the exchange's deadline, if it has one);
        :class:`AnswerTooLarge` as soon as it is known to be over ``limit`` bytes."""
        declared = self.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise AnswerTooLarge(f"an answer of {declared} bytes, over {limit}")
        connection = self._connection
        parts: list[bytes] = []
        size = 0
        while (chunk := await connection.next_chunk(self._deadline)) is not None:
            parts.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise AnswerTooLarge(f"an answer over {limit} bytes")
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def iter_chunks(self, idle_timeout_s: float | None) -> AsyncIterator[bytes]:
        """The body part by part as it arrives; ``TimeoutError`` after ``idle_timeout_s``
        of silence or past the exchange's deadline."""
        connection = self._connection
        loop = asyncio.get_running_loop()
        deadline = self._deadline
        while True:
            limit = None if idle_timeout_s is None else loop.time() + idle_timeout_s
            if deadline is not None:
                limit = deadline if limit is None else min(limit, deadline)
            chunk = await connection.next_chunk(limit)
            if chunk is None:
                return
            yield chunk

    def release(self) -> None:
        if self.closed:
            return
        self.closed = True
        connection = self._connection
        if connection.reusable and not connection.chunks:
            self._pool.put_back(connection)
        else:
            connection.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._connection.close()
