"""A streamed answer whose client hangs up mid-stream leaves no reference cycle behind on
the gateway's side either: the exception that ended it (kept for the ledger's abort
callback) and the upstream connection closed for it (its parser calls back into it) are
freed by reference counting, not left for the cyclic garbage collector."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import httptools
import httpx

from tests.gateway.conftest import make_settings, running_gateway
from tests.gateway.test_stream_cycles import cyclic_garbage

BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": 200,
    "stream": True,
    "messages": [{"role": "user", "content": "tell me a long story"}],
}


def the_gateways(item: object) -> bool:
    """An object of the gateway's own code (the test's HTTP client leaves cycles of its
    own when it hangs up, which are not the gateway's business)."""
    if isinstance(item, types.FrameType):
        return "/thrifty/" in item.f_code.co_filename
    if isinstance(item, httptools.HttpResponseParser):
        return True  # the gateway's upstream client (the test client is httpx's h11)
    return type(item).__module__.startswith("thrifty")


async def hang_up_mid_stream(http: httpx.AsyncClient) -> None:
    async with http.stream("POST", "/v1/chat/completions", json=BODY) as response:
        assert response.status_code == 200
        async for _ in response.aiter_bytes():
            break  # hang up after the first bytes


async def test_a_client_that_leaves_mid_stream_leaves_no_cycle(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 20})
    async with running_gateway(settings) as gateway:

        async def booked(count: int) -> None:
            for _ in range(250):
                if len(gateway.rows()) >= count:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # the abort's last steps after its row

        async with httpx.AsyncClient(base_url=gateway.url) as http:
            await hang_up_mid_stream(http)  # warm: first-use caches
            await booked(1)
            with cyclic_garbage() as garbage:
                for count in (2, 3):
                    await hang_up_mid_stream(http)
                    await booked(count)
        left = sorted({type(item).__name__ for item in garbage if the_gateways(item)})
        assert left == []
        rows = gateway.rows()
        assert [row.status for row in rows] == [499, 499, 499]
        assert all(row.failure == "client_left" for row in rows)
