"""Shared by the coalescing, idempotency and debounce gateway tests: a gateway on the
simulator with chosen settings, the count of upstream calls, and waiting for ledger rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

TIMEOUT = 20  # no test may hang: a request that would wait forever fails it instead


@asynccontextmanager
async def running(tmp_path: Path, **settings: Any) -> AsyncIterator[Gateway]:
    thrifty = Thrifty(make_settings(tmp_path, **settings), environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


def sdks(gw: Gateway) -> tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]:
    oai = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="app-key", max_retries=0)
    ant = anthropic.AsyncAnthropic(base_url=gw.url, api_key="app-key", max_retries=0)
    return oai, ant


async def upstream_calls(gw: Gateway) -> int:
    """Chat calls the simulator received."""
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gw.thrifty.simulator_url + "/_sim/stats")).json()
    return int(stats["requests"])


async def rows(gw: Gateway, count: int) -> list[LedgerRow]:
    """The ledger rows, once there are ``count`` of them (streams book as they end)."""
    for _ in range(int(TIMEOUT / 0.02)):
        found = gw.rows()
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} ledger rows, found {len(gw.rows())}")
