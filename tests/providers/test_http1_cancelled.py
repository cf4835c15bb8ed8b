"""A call cancelled while it waits for the answer's head (the app's client left): the
connection is closed without an error in the event loop's log."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.providers.test_http1 import pool, post, read_request, serving


async def test_a_call_cancelled_before_the_head_closes_quietly() -> None:
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    received = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        received.set()
        await asyncio.sleep(30)

    client = pool()
    try:
        async with serving(never_answers) as url:
            call = asyncio.ensure_future(post(client, url, total=30.0))
            await asyncio.wait_for(received.wait(), 5)
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
            assert call.cancelled()
            for _ in range(20):  # the connection's loss is seen a few loop turns later
                await asyncio.sleep(0.01)
    finally:
        client.close()
        loop.set_exception_handler(previous)
    assert errors == []
