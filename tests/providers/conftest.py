"""A scripted fake upstream on 127.0.0.1 (aiohttp.web), replaying wire payloads."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from thrifty.config import ProviderSettings
from thrifty.providers import HttpPool


@dataclass
class Script:
    """One scripted answer: a JSON/bytes body, or SSE ``chunks`` written one by one."""

    status: int = 200
    body: Any = None
    chunks: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    abort: bool = False  # drop the connection after the chunks (no clean end)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeUpstream:
    def __init__(self) -> None:
        self.scripts: deque[Script] = deque()
        self.seen: list[Seen] = []
        self.url = ""

    def add(self, script: Script) -> None:
        self.scripts.append(script)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(request.path, dict(request.headers), orjson.loads(await request.read()))
        )
        script = self.scripts.popleft()
        if script.delay_s:
            await asyncio.sleep(script.delay_s)
        if script.chunks is None:
            body = script.body
            raw = body if isinstance(body, bytes) else orjson.dumps(body)
            return web.Response(
                status=script.status,
                body=raw,
                headers={"Content-Type": "application/json", **script.headers},
            )
        resp = web.StreamResponse(
            status=script.status, headers={"Content-Type": "text/event-stream", **script.headers}
        )
        await resp.prepare(request)
        for chunk in script.chunks:
            await resp.write(chunk)
            if script.chunk_delay_s:
                await asyncio.sleep(script.chunk_delay_s)
        if script.abort:
            assert request.transport is not None
            request.transport.abort()
            return resp
        await resp.write_eof()
        return resp


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    app.router.add_post("/v1/messages", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    p = HttpPool()
    try:
        yield p
    finally:
        await p.aclose()


def openai_settings(url: str, **kw: Any) -> ProviderSettings:
    return ProviderSettings(dialect="openai", base_url=url + "/v1", **kw)


def anthropic_settings(url: str, **kw: Any) -> ProviderSettings:
    return ProviderSettings(dialect="anthropic", base_url=url, **kw)
