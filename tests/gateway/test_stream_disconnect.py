"""A client that hangs up mid-stream still leaves its ledger row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.gateway.conftest import make_settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server


async def test_client_disconnect_mid_stream_is_booked(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 20})
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": "tell me a long story"}],
    }
    try:
        async with (
            httpx.AsyncClient(base_url=server.url) as http,
            http.stream("POST", "/v1/messages", json=body) as response,
        ):
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                break  # hang up after the first bytes
        for _ in range(250):
            if thrifty.ledger.rows():
                break
            await asyncio.sleep(0.02)
        [row] = thrifty.ledger.rows()
        assert row.stream and row.status == 499
        assert row.error is not None and "disconnect" in row.error
        assert row.usage.input_tokens > 0  # Anthropic's message_start already carried it
        assert row.failure == "client_left"
        # The output seen so far is booked, flagged as an estimate (a lower bound), never
        # message_start's placeholder count as if it were exact.
        assert row.cost_estimated and row.cost_usd is not None and row.cost_usd > 0
    finally:
        await server.stop()
