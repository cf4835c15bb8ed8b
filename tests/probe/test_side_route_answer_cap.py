"""A forwarded side-route answer is capped: an upstream (or anything between) that sends
more than ``MAX_FORWARDED_BYTES`` gets a 502 naming the provider (never its URL or key),
logged, instead of the gateway buffering it all (it used to read any size)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thrifty.config import Settings
from thrifty.errors import UpstreamUnavailable
from thrifty.gateway import create_app
from thrifty.providers.base import MAX_FORWARDED_BYTES
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

KEY = "sk-test-0123456789abcdef"
CHUNK = b"x" * (1024 * 1024)


async def endless(request: Request) -> Response:
    """A chunked answer (no Content-Length) of more than the cap."""

    async def body() -> AsyncIterator[bytes]:
        for _ in range(MAX_FORWARDED_BYTES // len(CHUNK) + 8):
            yield CHUNK

    return StreamingResponse(body(), media_type="application/json")


async def declared(request: Request) -> Response:
    """An answer whose Content-Length alone says it is over the cap."""
    return Response(b"{" + b" " * MAX_FORWARDED_BYTES + b"}", media_type="application/json")


async def small(request: Request) -> Response:
    return Response(b'{"id":"resp_1","object":"response"}', media_type="application/json")


@asynccontextmanager
async def upstream_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    routes = [
        Route("/v1/responses/{rid}", endless, methods=["GET"]),
        Route("/v1/responses/{rid}", declared, methods=["DELETE"]),
        Route("/v1/responses/{rid}/input_items", small, methods=["GET"]),
    ]
    upstream = await start_server(Starlette(routes=routes))
    try:
        yield Settings(
            ledger={"path": str(tmp_path / "ledger.db")}, openai_base_url=upstream.url + "/v1"
        )
    finally:
        await upstream.stop()


async def test_the_gateway_answers_502_past_the_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thrifty")
    async with upstream_settings(tmp_path) as settings:
        url = settings.openai_base_url
        thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": KEY})
        server = await start_server(create_app(thrifty))
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                for method in ("GET", "DELETE"):
                    answer = await http.request(method, "/v1/responses/resp_1")
                    assert answer.status_code == 502, method
                    message = answer.json()["error"]["message"]
                    assert "openai" in message and "64 MiB" in message, message
                    assert KEY not in answer.text and str(url) not in answer.text
                # A small answer still passes.
                fine = await http.get("/v1/responses/resp_1/input_items")
                assert fine.status_code == 200 and fine.json()["id"] == "resp_1"
        finally:
            await server.stop()
    logged = [r.getMessage() for r in caplog.records if "MiB" in r.getMessage()]
    assert len(logged) == 2 and all("openai answered" in line for line in logged), logged
    assert all(KEY not in line and str(url) not in line for line in logged)


async def test_the_library_raises_past_the_cap(tmp_path: Path) -> None:
    async with (
        upstream_settings(tmp_path) as settings,
        Thrifty(settings, environ={"OPENAI_API_KEY": KEY}) as thrifty,
    ):
        with pytest.raises(UpstreamUnavailable, match="64 MiB") as caught:
            await thrifty.retrieve_response("resp_1")
        assert caught.value.status == 502 and caught.value.provider == "openai"
