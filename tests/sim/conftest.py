from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx
import httpx2
import openai
import pytest
from starlette.applications import Starlette

from thrifty.sim import SimConfig, SimServer, create_app


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Starlette:
    return create_app(SimConfig(), clock=clock)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


@pytest.fixture
async def sdk_http(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    """In-process transport for the SDKs (these SDK releases are built on httpx2)."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        yield http


@pytest.fixture
async def oai(sdk_http: httpx2.AsyncClient) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(
        base_url="http://sim/v1", api_key="sk-test", http_client=sdk_http, max_retries=0
    )
    yield client
    await client.close()


@pytest.fixture
async def ant(sdk_http: httpx2.AsyncClient) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url="http://sim", api_key="sk-ant-test", http_client=sdk_http, max_retries=0
    )
    yield client
    await client.close()


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig()) as sim:
        yield sim
