from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, start_server


@dataclass
class Gateway:
    url: str
    thrifty: Thrifty
    server: RunningServer

    def rows(self) -> list[LedgerRow]:
        return self.thrifty.ledger.rows()


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "ledger": {"path": str(tmp_path / "ledger.db")},
        "simulator": {"port": 0},
        "simulate": True,
    }
    data.update(extra)
    return Settings(**data)


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway on ``settings``, listening on loopback until the block ends."""
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        routing={
            "tasks": {"summarize": "cheap", "impact": "claude-sonnet-4-6"},
            "aliases": {"cheap": "gpt-4o-mini"},
        },
    )
    async with running_gateway(settings) as running:
        yield running


@pytest.fixture
async def oai(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="app-key", max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
async def ant(gateway: Gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key="app-key", max_retries=0
    ) as sdk:
        yield sdk
