"""Minimal raw-ASGI helpers: the hot path skips Request/Response objects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import orjson
from starlette.types import Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

JSON_CT = (b"content-type", b"application/json")
SSE_CT = (b"content-type", b"text/event-stream; charset=utf-8")
_SHORT_SLEEP_S = 0.5  # shorter sleeps do not watch for a client disconnect


def header_map(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while message.get("more_body", False):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def send_bytes(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = (JSON_CT,)
) -> None:
    out: Headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, obj: object, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    await send_bytes(send, status, orjson.dumps(obj), (JSON_CT, *extra))


async def start_stream(send: Send, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers: Headers = [SSE_CT, (b"cache-control", b"no-cache"), *extra]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def send_chunk(send: Send, data: bytes, *, last: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": not last})


async def pause(receive: Receive, seconds: float) -> bool:
    """Sleep ``seconds``; return ``False`` early if the client disconnects meanwhile.

    Only long sleeps watch the connection (it costs a task); the request body must already
    have been read.
    """
    if seconds <= 0:
        return True
    if seconds < _SHORT_SLEEP_S:
        await asyncio.sleep(seconds)
        return True
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        waiter = asyncio.ensure_future(receive())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=left)
        finally:
            if not waiter.done():
                waiter.cancel()
        if waiter in done:
            if waiter.result().get("type") == "http.disconnect":
                return False
            # Anything else (a server that answers receive() eagerly): stop watching.
            await asyncio.sleep(max(deadline - time.monotonic(), 0.0))
            return True
    return True
