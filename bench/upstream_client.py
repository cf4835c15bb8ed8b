"""CPU per call of the lean upstream HTTP/1.1 client (``providers.http1.Http1Pool``): one
POST and its chunked streamed answer read to the end over a kept-alive connection, 32
calls in flight, against a trivial server in the same process (which answers every
request with the same bytes), so the figure is the client's work plus a small constant.

    .venv/bin/python bench/upstream_client.py
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/upstream_client.py   # older code

Prints the process's CPU time per call (best of 5 rounds of 3,200 calls).
"""

from __future__ import annotations

import asyncio
import time

import uvloop

try:
    from thrifty.providers.http1_pool import Http1Pool
except ImportError:  # a tree from before the pool had its own module
    from thrifty.providers.http1 import Http1Pool  # type: ignore[attr-defined,no-redef]

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n"
)
IN_FLIGHT = 32
CALLS_EACH = 100


class TrivialServer(asyncio.Protocol):
    """Answers each request (a JSON body, sent in one write) with :data:`ANSWER`."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if data.endswith(b"}"):
            self.transport.write(ANSWER)


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(TrivialServer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
    pool = Http1Pool(limit=100, keepalive_timeout_s=30.0, user_agent="bench")

    async def calls(count: int) -> None:
        for _ in range(count):
            response = await pool.request(
                "POST",
                url,
                b'{"model":"m"}',
                {"Authorization": "Bearer bench"},
                connect_timeout_s=5.0,
                total_timeout_s=60.0,
                head_timeout_s=30.0,
            )
            async for _ in response.iter_chunks(30.0):
                pass
            response.release()

    await asyncio.gather(*(calls(10) for _ in range(IN_FLIGHT)))  # warm: connections made
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        await asyncio.gather(*(calls(CALLS_EACH) for _ in range(IN_FLIGHT)))
        best = min(best, (time.process_time() - started) / (IN_FLIGHT * CALLS_EACH))
    print(f"{best * 1e6:.1f} us CPU per call (client and a trivial server in one process)")
    pool.close()
    server.close()


if __name__ == "__main__":
    uvloop.run(main())
