"""Answers are not held back by Nagle's algorithm on the standard event loop.

uvloop sets TCP_NODELAY on every TCP connection; the standard loop only on sockets whose
protocol is IPPROTO_TCP.  Without it, an answer written as head then body waited for the
client's delayed ACK: about 40 ms a request once a kept-alive connection left TCP's
quick-ACK start (every library call to the built-in simulator paid it)."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

from thrifty.serving import _no_delay
from thrifty.sim import SimConfig, SimServer


async def test_the_simulator_listens_with_tcp_so_accepted_sockets_get_no_delay() -> None:
    async with SimServer(SimConfig()) as sim:
        assert sim._sock.proto == socket.IPPROTO_TCP


async def test_kept_alive_requests_to_the_simulator_are_not_delayed() -> None:
    import aiohttp

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        SimServer(SimConfig()) as sim,
        aiohttp.ClientSession() as session,  # one kept-alive connection
    ):
        url = sim.openai_base_url + "/chat/completions"
        times = []
        for _ in range(12):
            started = time.perf_counter()
            async with session.post(url, json=body) as response:
                assert response.status == 200
                await response.read()
            times.append(time.perf_counter() - started)
    # A delayed ACK holds each answer about 40 ms; an answer here takes a few ms.
    assert statistics.median(times[3:]) < 0.025


def test_no_delay_is_set_on_a_server_side_socket_of_protocol_zero() -> None:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # protocol 0
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    client = socket.create_connection(listening.getsockname())
    accepted, _ = listening.accept()

    class Transport(asyncio.BaseTransport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return accepted if name == "socket" else default

    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        _no_delay(Transport())
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for sock in (client, accepted, listening):
            sock.close()
