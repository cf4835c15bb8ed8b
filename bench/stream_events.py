"""CPU per stream of reading an upstream's streamed answer: the SSE parser and the stream
handler (``providers.streaming.upstream_events``) over the simulator's answer to
bench/concurrency.py's streamed request (19 events arriving in one read), without the
network or the rest of the gateway.

    .venv/bin/python bench/stream_events.py
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/stream_events.py   # older code

Prints the thread's CPU time per stream (best of 7 rounds of 5,000) for the handler the
gateway uses when the app did not ask for usage (thrifty asks for it and strips it) and
when it did (every chunk passed on as it came).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from thrifty.config import ProviderSettings
from thrifty.providers import HttpPool, build_provider
from thrifty.providers.streaming import StreamDeadlines, upstream_events
from thrifty.serving import start_server
from thrifty.sim.app import create_app
from thrifty.sim.config import SimConfig
from thrifty.types import ChatRequest, ChatResponse

BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hello"}],
    "max_tokens": 20,
    "stream": True,
}


class OneRead:
    """The body of an upstream answer, arriving in one read."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def iter_chunks(self, idle_timeout_s: float | None) -> AsyncIterator[bytes]:
        yield self.body

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


async def simulator_stream() -> bytes:
    """The simulator's streamed answer, usage requested as the gateway requests it."""
    server = await start_server(create_app(SimConfig(latency_ms=0)))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sent = {**BODY, "stream_options": {"include_usage": True}}
            answer = await http.post("/v1/chat/completions", content=orjson.dumps(sent))
            return answer.content
    finally:
        await server.stop()


async def per_stream(body: bytes, request: ChatRequest, provider: Any) -> float:
    deadlines = StreamDeadlines(idle_s=60.0, total_s=600.0)

    async def one() -> None:
        response = ChatResponse(dialect="openai", model=request.model, provider="openai")
        handler = provider._stream_handler(request, response, False)
        events = upstream_events("sim", OneRead(body), response, handler, 0.0, deadlines)  # type: ignore[arg-type]
        async for _ in events:
            pass
        assert response.stream_complete and response.usage_reported

    best = float("inf")
    for _ in range(7):
        started = time.thread_time()
        for _ in range(5000):
            await one()
        best = min(best, (time.thread_time() - started) / 5000)
    return best


async def main() -> None:
    body = await simulator_stream()
    print(f"the simulator's stream: {len(body)} bytes, {body.count(b'data: ')} events")
    pool = HttpPool()
    settings = ProviderSettings(dialect="openai", base_url="http://127.0.0.1:9/v1")
    provider = build_provider("openai", settings, pool, api_key="bench")
    for label, extra in (("usage not asked", {}), ("usage asked", {"include_usage": True})):
        sent = {**BODY, "stream_options": extra} if extra else BODY
        request = ChatRequest(
            dialect="openai",
            body=sent,
            model="gpt-4o-mini",
            requested_model="gpt-4o-mini",
            stream=True,
        )
        cpu = await per_stream(body, request, provider)
        print(f"{label}: {cpu * 1e6:.1f} us CPU per stream")
    await pool.aclose()


if __name__ == "__main__":
    asyncio.run(main())
