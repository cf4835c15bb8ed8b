"""Run an ASGI app with uvicorn inside the current event loop (tests, benchmarks, embedding),
and the request-reading limits every gateway server uses.

uvicorn (0.54, httptools) has no timeout for reading a request: a connection that sends
nothing, half its headers, or its headers and half its body stays open for ever (its
``timeout_keep_alive`` only runs between two requests), and httptools caps no header size.
:func:`request_limits` returns the uvicorn options that close such a connection:

- the whole header block must arrive within ``header_timeout_s`` of the connection opening
  (or, on a kept-alive connection, of the next request's first byte), else a 408;
- the body must arrive within ``body_timeout_s`` of the headers, else a 408 (the app, if
  it is waiting for the body, sees the client disconnect);
- a header block larger than ``max_header_bytes`` is a 431;
- an idle kept-alive connection closes after ``keep_alive_s``.

The deadlines are not extended by data arriving, so a client trickling a byte at a time
cannot hold a connection.

The protocol also sends what a response writes in one turn of the event loop in one write
(:class:`HeldWrites`): a whole answer, head, body and chunked terminator, is one ``send()``
system call instead of two or three; a loopback ``send()`` is about 45 microseconds here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 64 * 1024  # bounds memory per connection; the app caps each header it reads


def _refusal(status: str, text: str) -> bytes:
    body = text.encode() + b"\r\n"
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


_408 = _refusal("408 Request Timeout", "the request was not sent in time")
_431 = _refusal("431 Request Header Fields Too Large", "the request headers are too large")


class _HeadersTooLarge(Exception):
    pass


DISCONNECT_HOOK = "thrifty.disconnect"
"""The ASGI extension, in a request's ``scope["extensions"]``, that holds its
:class:`DisconnectHook` (as ``{"hook": ...}``: an extension's value is a dict)."""


class DisconnectHook:
    """Put in every request's ``scope["extensions"]`` by the gateway's server protocol:
    ``callback`` is called, once, when the client's connection is lost (or refused) before
    the response is complete: what ``receive()`` would then answer with
    ``http.disconnect``, without a task kept waiting on ``receive()`` for each request."""

    __slots__ = ("callback", "fired")

    def __init__(self) -> None:
        self.callback: Callable[[], None] | None = None
        self.fired = False  # a callback set after the client left is the caller's to run

    def fire(self) -> None:
        self.fired = True
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


def disconnect_hook(scope: Mapping[str, Any]) -> DisconnectHook | None:
    """The request's :class:`DisconnectHook`, if its server put one in its scope."""
    extensions = scope.get("extensions")
    extension = extensions.get(DISCONNECT_HOOK) if isinstance(extensions, dict) else None
    hook = extension.get("hook") if isinstance(extension, dict) else None
    return hook if isinstance(hook, DisconnectHook) else None


class HeldWrites:
    """The transport as one response cycle sees it: the writes made in one turn of the
    event loop (the response head, the body parts produced at once, the chunked
    terminator) are held and sent together, in one system call, at the end of that turn.
    A body produced over time (a stream) is sent as it comes, one turn later at most.
    Bytes and their order on the wire are unchanged."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = [data]
            self._loop.call_soon(self._flush)
        else:
            held.append(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Answers go out as they are written (TCP_NODELAY).  uvloop sets it on every TCP
    connection; the standard event loop only on sockets created with protocol
    ``IPPROTO_TCP``, and a listening socket made with ``socket.socket(AF_INET,
    SOCK_STREAM)`` (uvicorn's, this module's) has protocol 0.  Without it, an answer written
    in two parts waits for the client's delayed ACK: about 40 ms a request once a
    keep-alive connection leaves TCP's quick-ACK start."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def timed_http_protocol(
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with deadlines for reading each request (see the
    module docstring)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TimedHttpToolsProtocol(HttpToolsProtocol):
        # A deadline is armed only while a request is incomplete at the end of a read: a
        # request that arrives in one read (the usual case) costs no timer at all.
        _deadline: asyncio.TimerHandle | None = None
        _reading_headers = False
        _reading_body = False
        _header_bytes = 0
        _too_large = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)
            self._arm(header_timeout_s)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            cycle = self.cycle
            super().connection_lost(exc)
            if cycle is not None and cycle.disconnected:  # lost before the response's end
                _fire_hook(cycle.scope)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self._reading_headers:
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    self._refuse(_431)
                elif self._deadline is None:  # a kept-alive connection's next request
                    self._arm(header_timeout_s)
            elif self._reading_body and self._deadline is None:
                self._arm(body_timeout_s)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._reading_headers, self._header_bytes = True, 0
            self.scope["extensions"] = {DISCONNECT_HOOK: {"hook": DisconnectHook()}}

        def on_headers_complete(self) -> None:
            self._reading_headers, self._header_bytes = False, 0
            size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
            if size > max_header_bytes:  # a whole header block that came in one read
                self._too_large = True
                raise _HeadersTooLarge  # stops the parser; see send_400_response
            self._disarm()  # the body's deadline, if it does not come in this read
            before = self.cycle
            super().on_headers_complete()
            cycle: Any = self.cycle
            if cycle is None or cycle is before:  # an upgrade: another protocol reads on
                self._reading_body = False
                return
            self._reading_body = True
            cycle.transport = HeldWrites(self.transport, self.loop)

        def on_message_complete(self) -> None:
            self._reading_body = False
            self._disarm()
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            if self._too_large:
                self._refuse(_431)
            else:
                super().send_400_response(msg)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            self._refuse(_408)

        def _refuse(self, answer: bytes) -> None:
            self._disarm()
            if self.transport.is_closing():
                return
            cycle = self.cycle
            # (a kept-alive connection's next request: the last cycle is complete)
            if cycle is None or cycle.response_complete or not cycle.response_started:
                self.transport.write(answer)
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True  # the app's sends are dropped from here on
                cycle.message_event.set()
                _fire_hook(cycle.scope)
            self.transport.close()

    return TimedHttpToolsProtocol


def _fire_hook(scope: Mapping[str, Any]) -> None:
    hook = disconnect_hook(scope)
    if hook is not None:
        hook.fire()


def request_limits(
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    body_timeout_s: float = BODY_TIMEOUT_S,
    keep_alive_s: int = KEEP_ALIVE_S,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that bound how long and how much a client
    may take to send a request (``http`` is the protocol class: do not pass it too)."""
    http: type[asyncio.Protocol] | str
    try:
        http = timed_http_protocol(
            header_timeout_s=header_timeout_s,
            body_timeout_s=body_timeout_s,
            max_header_bytes=max_header_bytes,
        )
    except ImportError:  # no httptools: h11 at least bounds the header size
        http = "h11"
    return {
        "http": http,
        "timeout_keep_alive": keep_alive_s,
        "h11_max_incomplete_event_size": max_header_bytes,
        # Nothing here reads the client's address or the scheme, so X-Forwarded-* headers
        # are neither trusted nor parsed (one middleware layer fewer on every request).
        "proxy_headers": False,
    }


def capacity(max_connections: int) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that size the server for LLM latencies:
    ``max_connections`` client connections (each holding one request, for seconds) at
    once, a 503 for a request beyond them, and a listen backlog for a burst of that many
    new connections (the kernel caps it at ``net.core.somaxconn``)."""
    return {"limit_concurrency": max_connections, "backlog": max(2048, max_connections)}


def raise_open_file_limit(needed: int) -> int:
    """Raise this process's soft limit on open files towards ``needed`` (never above the
    hard limit, never lowering it) and return the limit in force.  Each call in flight
    holds two descriptors (the app's connection and the upstream's), and many systems
    start processes with a soft limit of 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return needed if soft == resource.RLIM_INFINITY else soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


GC_THRESHOLDS = (50_000, 20)
"""Once serving: container allocations between two young-generation collections, and
young collections between two middle-generation ones (the interpreter's are 700 and 10)."""


def freeze_startup_heap() -> None:
    """Once the gateway has started, before it serves: move every object alive now
    (modules, settings, price tables: some 60,000) out of the cyclic garbage collector's
    reach (``gc.freeze``), and run its collections less often.

    A request allocates many container objects, and at a thousand calls in flight most
    of them live for the call's second: each collection walks them again, and each full
    one walked the start-up heap too.  Measured at 1,000 streams in flight (1 s
    upstream), the collector took 23% of the gateway's CPU with the defaults, 11% after
    this.  Memory is still freed by reference counting as before; only cycles wait a
    little longer to be collected."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle = GC_THRESHOLDS
    gc.set_threshold(young, middle, gc.get_threshold()[2])


def free_port(host: str) -> int:
    """A port nothing listens on right now (another process may take it before you do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=10)


async def start_server(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_connections: int | None = None,
    **limits: Any,
) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 = a free port) and return once it accepts requests.
    ``max_connections`` is :func:`capacity`'s (default: unlimited), ``limits`` are
    :func:`request_limits`' keyword arguments."""
    # Bound here, before uvicorn starts: a port picked, closed and bound again later can
    # be taken in between by another server starting at the same time.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError:
        listening.close()
        raise
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **request_limits(**limits),
        **(capacity(max_connections) if max_connections is not None else {}),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"server on {host}:{port} exited before starting")
            await asyncio.sleep(0.005)
    finally:
        if task.done():
            listening.close()
    shown = f"[{host}]" if ":" in host else host
    return RunningServer(server=server, task=task, url=f"http://{shown}:{port}")
