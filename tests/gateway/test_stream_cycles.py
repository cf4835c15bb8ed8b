"""A streamed answer, once written, leaves no reference cycle behind: its response, its
stream wrappers and their callbacks are freed by reference counting as the request ends,
not left for the cyclic garbage collector (at a thousand streams in flight, collecting
some thirty objects a stream was a large part of the gateway's CPU)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.gateway.conftest import make_settings, running_gateway
from thrifty.providers.streaming import UpstreamStream
from thrifty.streams._guarded import GuardedStream
from thrifty.types import ChatResponse

BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hello"}],
    "max_tokens": 20,
}
WATCHED = (ChatResponse, GuardedStream, UpstreamStream)


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """The objects the cyclic collector finds unreachable after the block (kept, not
    freed, so that they can be looked at)."""
    found: list[object] = []
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_streamed_and_plain_answers_leave_no_cycle(tmp_path: Path) -> None:
    async with running_gateway(make_settings(tmp_path)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            await http.post("/v1/chat/completions", json=BODY)  # warm: first-use caches
            with cyclic_garbage() as garbage:
                for stream in (True, False, True, False):
                    sent = {**BODY, "stream": True} if stream else BODY
                    answer = await http.post("/v1/chat/completions", json=sent)
                    assert answer.status_code == 200
        left = [type(item).__name__ for item in garbage if isinstance(item, WATCHED)]
        assert left == []
        assert len(gateway.thrifty.ledger.rows()) == 5
