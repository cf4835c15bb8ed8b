"""serve() embedded in a running loop, SimServer, config latencies, admin routes."""

from __future__ import annotations

import asyncio
import socket
import time

import anthropic
import httpx
import openai

from thrifty.sim import SimConfig, SimServer, create_app, serve, sim_state


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_embedded_sets_ready_and_stops_on_cancel() -> None:
    port = free_port()
    ready = asyncio.Event()
    app = create_app(SimConfig())
    task = asyncio.create_task(serve(SimConfig(), "127.0.0.1", port, ready=ready, app=app))
    await asyncio.wait_for(ready.wait(), 5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/health")).status_code == 200
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
    assert sim_state(app).stats.requests == 1
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


async def test_config_latency_and_chunk_delay() -> None:
    config = SimConfig(latency_ms=100, stream_chunk_delay_ms=10)
    async with (
        SimServer(config) as sim,
        openai.AsyncOpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0) as client,
    ):
        start = time.perf_counter()
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        arrivals = [time.perf_counter() - start async for _ in stream]
    assert arrivals[0] >= 0.1
    assert arrivals[-1] - arrivals[0] >= 0.01 * 15  # >= 20 deltas, 10 ms apart


async def test_anthropic_sdk_over_loopback_and_models(server: SimServer) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="k", max_retries=0
    ) as client:
        msg = await client.messages.create(
            model="claude-haiku-4-5", max_tokens=30, messages=[{"role": "user", "content": "hi"}]
        )
        assert msg.usage.output_tokens <= 30
        async with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=300, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = await stream.get_final_text()
        page = await client.models.list()
        assert all(m.id.startswith("claude") for m in page.data)
    assert text.startswith("Simulated reply")
    stats = sim_state(server.app).stats.snapshot()
    assert stats["by_route"] == {"/v1/messages": 2, "/v1/models": 1}
    assert stats["streams"] == 1
