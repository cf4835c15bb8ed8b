"""The pool of the lean HTTP/1.1 client (:mod:`thrifty.providers.http1`): keep-alive
connections per origin, a limit on the connections open at once, and the exchange of one
request (connect or reuse, send, await the answer's head within its deadline)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from thrifty.providers.http1 import (
    ConnectFailed,
    Connection,
    ConnectTimeout,
    Origin,
    Response,
    ServerDisconnected,
    expire_waiter,
)

__all__ = ["Http1Pool"]


class Http1Pool:
    """Keep-alive connections per origin, most recently used first.  Used on one event
    loop (the :class:`~thrifty.providers._http.HttpPool` that owns it makes a new one for
    another loop)."""

    def __init__(self, *, limit: int, keepalive_timeout_s: float, user_agent: str) -> None:
        self._idle: dict[Origin, list[Connection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._keepalive_timeout_s = keepalive_timeout_s
        self._user_agent = user_agent
        self._tls: ssl.SSLContext | None = None
        self._targets: dict[str, tuple[Origin, bytes]] = {}
        self._open: set[Connection] = set()

    def _target(self, url: str) -> tuple[Origin, bytes]:
        """(origin, the request line's target and Host header) of ``url``, parsed once."""
        known = self._targets.get(url)
        if known is not None:
            return known
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ConnectFailed(f"not an http(s) URL: {scheme or 'no scheme'}")
        port = parts.port or (443 if scheme == "https" else 80)
        default = port == (443 if scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = host if default else f"{host}:{port}"
        prefix = f" {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {self._user_agent}\r\n"
        known = ((scheme, parts.hostname, port), prefix.encode("latin-1"))
        if len(self._targets) < 256:
            self._targets[url] = known
        return known

    async def request(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        connect_timeout_s: float | None,
        total_timeout_s: float | None,
        head_timeout_s: float | None = None,
    ) -> Response:
        """Send one request and return once the answer's head has arrived (or raise
        ``TimeoutError`` past ``head_timeout_s``, or ``total_timeout_s``, the bound of the
        whole exchange, body included)."""
        origin, prefix = self._target(url)
        lines = [method.encode("ascii"), prefix]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
        raw = b"".join(lines) + body
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = None if total_timeout_s is None else now + total_timeout_s
        head_by = deadline
        if head_timeout_s is not None:  # the answer's head is due sooner than its end
            head_by = (
                now + head_timeout_s if deadline is None else min(deadline, now + head_timeout_s)
            )
        connection = self._kept_alive(origin)
        if connection is None:  # a new connection (or a wait for a free slot), within head_by
            async with asyncio.timeout_at(head_by):
                connection = await self._new_connection(origin, connect_timeout_s)
        # The answer's head awaited with one timer handle, not an ``asyncio.timeout``
        # context (several times the cost, on every call).
        head = connection.send(raw)
        timer = None if head_by is None else loop.call_at(head_by, expire_waiter, head)
        try:
            await head
        except BaseException:
            connection.close()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return Response(connection, self, deadline)

    def _kept_alive(self, origin: Origin) -> Connection | None:
        """An idle pooled connection to ``origin`` still fit to use, if there is one."""
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if (
                connection.closed
                or transport is None
                or transport.is_closing()
                or now - connection.idle_since > self._keepalive_timeout_s
            ):
                connection.close()
                continue
            return connection
        return None

    async def _new_connection(self, origin: Origin, connect_timeout_s: float | None) -> Connection:
        await self._slots.acquire()
        try:
            connection = await self._connect(origin, connect_timeout_s)
        except BaseException:
            self._slots.release()
            raise
        if connection.closed:  # lost already: its slot was never counted
            self._slots.release()
            raise ServerDisconnected("the server closed the connection as it was made")
        self._open.add(connection)
        return connection

    async def _connect(self, origin: Origin, connect_timeout_s: float | None) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: Connection(origin, self._forget),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            raise ConnectTimeout(f"no connection within {connect_timeout_s}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc.strerror or exc}") from None
        return connection

    def put_back(self, connection: Connection) -> None:
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, []).append(connection)

    def _forget(self, connection: Connection) -> None:
        """A connection was lost: its slot is free again."""
        if connection in self._open:
            self._open.discard(connection)
            self._slots.release()

    def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
