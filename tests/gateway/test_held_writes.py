"""What a response writes in one turn of the loop goes out in one write (one system call);
a body produced over time goes out turn by turn, in order."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.types import Receive, Scope, Send

from thrifty.serving import HeldWrites, start_server


class Recorder:
    """A transport that records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


def held(recorder: Recorder) -> HeldWrites:
    return HeldWrites(cast(asyncio.Transport, recorder), asyncio.get_running_loop())


async def test_the_writes_of_one_turn_go_out_in_one_write() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(b"HEAD")
    assert recorder.writes == []
    transport.write(b"body-1")
    transport.write(b"body-2")
    await asyncio.sleep(0)
    assert recorder.writes == [b"HEADbody-1body-2"]


async def test_a_body_produced_over_time_goes_out_turn_by_turn_in_order() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(b"HEAD")
    await asyncio.sleep(0)
    assert recorder.writes == [b"HEAD"]
    transport.write(b"event-1")
    assert recorder.writes == [b"HEAD"]
    await asyncio.sleep(0)
    transport.write(b"event-2")
    transport.write(b"0\r\n\r\n")
    await asyncio.sleep(0)
    assert recorder.writes == [b"HEAD", b"event-1", b"event-2" + b"0\r\n\r\n"]


async def test_close_sends_what_is_held_first() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(b"HEAD")
    transport.close()
    assert recorder.writes == [b"HEAD"] and recorder.closed
    await asyncio.sleep(0)
    assert recorder.writes == [b"HEAD"]


async def test_held_writes_are_dropped_on_a_transport_closed_meanwhile() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(b"HEAD")
    recorder.closed = True  # the protocol closed the connection itself
    await asyncio.sleep(0)
    assert recorder.writes == []
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == "info peername"


async def slow_body(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        message: Any = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.sleep(0.3)
    await send({"type": "http.response.body", "body": b"late", "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_a_client_gets_the_head_before_a_late_body() -> None:
    server = await start_server(slow_body)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.2)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked" in head
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 2)
        assert rest == b"4\r\nlate\r\n0\r\n\r\n"
        writer.close()
    finally:
        await server.stop()


async def websocket_echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await slow_body(scope, receive, send)
        return
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close"})


async def test_a_protocol_upgrade_is_left_to_the_upgraded_protocol() -> None:
    server = await start_server(websocket_echo)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 101 ")
        writer.close()
    finally:
        await server.stop()
