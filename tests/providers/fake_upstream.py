"""Test helpers: a scripted fake upstream (aiohttp.web on 127.0.0.1) and request builders."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from thrifty.config import ProviderSettings
from thrifty.types import ChatRequest, ChatResponse, StreamEvent


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


KEY = "sk-test-SECRET123456"


def openai_settings(url: str, **kw: Any) -> ProviderSettings:
    return ProviderSettings(dialect="openai", base_url=url + "/v1", **kw)


def anthropic_settings(url: str, **kw: Any) -> ProviderSettings:
    return ProviderSettings(dialect="anthropic", base_url=url, **kw)


def openai_request(stream: bool = False, **extra: Any) -> ChatRequest:
    body = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], **extra}
    if stream:
        body["stream"] = True
    return ChatRequest(
        dialect="openai", body=body, model="gpt-4.1", requested_model="cheap", stream=stream
    )


def anthropic_request(stream: bool = False) -> ChatRequest:
    body: dict[str, Any] = {
        "model": "cheap",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if stream:
        body["stream"] = True
    return ChatRequest(
        dialect="anthropic", body=body, model="claude-x", requested_model="cheap", stream=stream
    )


async def drain(response: ChatResponse) -> list[StreamEvent]:
    assert response.stream is not None
    return [event async for batch in response.stream for event in batch]
