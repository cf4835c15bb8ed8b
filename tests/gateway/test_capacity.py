"""How many calls the gateway server holds: a 503 beyond ``gateway.max_connections``, and
the open-file limit raised for two descriptors per call in flight."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from thrifty.config import GatewaySettings
from thrifty.serving import capacity, raise_open_file_limit, start_server


class Held:
    """Answers each request once ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message: Any = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def status_of(url: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        return int(head[9:12])
    finally:
        writer.close()


async def test_a_request_beyond_max_connections_is_a_503() -> None:
    app = Held()
    server = await start_server(app, max_connections=3)
    try:
        held = [asyncio.create_task(status_of(server.url)) for _ in range(2)]
        await asyncio.sleep(0.2)
        assert await status_of(server.url) == 503
        app.release.set()
        assert await asyncio.gather(*held) == [200, 200]
        assert await status_of(server.url) == 200
    finally:
        await server.stop()


def test_capacity_sizes_the_backlog_for_a_burst() -> None:
    assert capacity(10_000) == {"limit_concurrency": 10_000, "backlog": 10_000}
    assert capacity(100) == {"limit_concurrency": 100, "backlog": 2048}


@pytest.mark.parametrize(
    ("soft", "hard", "needed", "expected"),
    [
        (1024, 4096, 20_000, 4096),  # capped by the hard limit
        (1024, resource.RLIM_INFINITY, 20_000, 20_000),
        (50_000, 100_000, 20_000, 50_000),  # never lowered
    ],
)
def test_the_open_file_limit_is_raised_towards_what_is_needed(
    monkeypatch: pytest.MonkeyPatch, soft: int, hard: int, needed: int, expected: int
) -> None:
    limits = {"now": (soft, hard)}
    monkeypatch.setattr(resource, "getrlimit", lambda kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda kind, value: limits.update(now=value))
    assert raise_open_file_limit(needed) == expected
    assert limits["now"] == (expected, hard)


def test_a_refused_raise_keeps_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(kind: int, value: tuple[int, int]) -> None:
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "getrlimit", lambda kind: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", refuse)
    assert raise_open_file_limit(20_000) == 1024


def test_max_connections_is_a_setting_sized_for_thousands_of_calls() -> None:
    assert GatewaySettings().max_connections == 10_000
    assert GatewaySettings(max_connections=50).max_connections == 50
    with pytest.raises(ValidationError):
        GatewaySettings(max_connections=1)
