"""bench/_load.py, the load generator of bench/concurrency.py, against a loopback server
that answers after a fixed delay and records when each request arrived."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench._load import first_request_offsets, run_load

DELAY_S = 0.05
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def serve(arrivals: list[float]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                arrivals.append(time.monotonic())
                await asyncio.sleep(DELAY_S)
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def load(stagger: float) -> tuple[float, int, list[float]]:
    arrivals: list[float] = []
    server = await serve(arrivals)
    port = server.sockets[0].getsockname()[1]
    async with server:
        rate, errors = await run_load(
            f"http://127.0.0.1:{port}/v1/x", {"a": 1}, 20, 0.4, stagger=stagger
        )
    return rate, errors, arrivals[20:]  # after the 20 warm-up requests


@pytest.mark.parametrize("stagger", [0.0, DELAY_S])
async def test_requests_are_answered_and_counted(stagger: float) -> None:
    rate, errors, _ = await load(stagger)
    assert errors == 0
    # 20 in flight, 50 ms each: at most 400 a second, and well above nothing.
    assert 40 < rate <= 400


def test_lockstep_starts_every_worker_at_once_and_spread_evenly_over_the_stagger() -> None:
    assert first_request_offsets(4, 0.0) == [0.0, 0.0, 0.0, 0.0]
    assert first_request_offsets(4, 1.0) == [0.0, 0.25, 0.5, 0.75]


async def test_spread_first_requests_arrive_no_earlier_than_their_offsets() -> None:
    _, _, spread = await load(DELAY_S)
    # The 20th measured request was sent 19/20 of the stagger after the first one at the
    # earliest (a loaded machine only delays; the first may be late too, hence the slack).
    assert max(spread[:20]) - min(spread[:20]) > DELAY_S / 4
