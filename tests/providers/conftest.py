"""Fixtures: the scripted fake upstream and a shared HTTP pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from thrifty.providers import HttpPool

from .fake_upstream import FakeUpstream


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    app = web.Application()
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions"):
        app.router.add_post(path, fake.handle)
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
