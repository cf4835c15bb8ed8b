"""The side routes and the library against an upstream that misbehaves: a redirect is a
502 naming it (was passed on as a bare 307 without its Location, which no client can act
on), never followed; a 204 without a body is an empty answer in the library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from thrifty.config import Settings
from thrifty.errors import UpstreamUnavailable
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

REDIRECTED: list[str] = []


async def redirect(request: Request) -> Response:
    REDIRECTED.append(request.url.path)
    return RedirectResponse("http://127.0.0.1:9/steal", status_code=307)


async def no_content(request: Request) -> Response:
    return Response(status_code=204)


@asynccontextmanager
async def upstream_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    routes = [
        Route("/v1/responses/{rid}", redirect, methods=["GET", "DELETE"]),
        Route("/v1/responses/{rid}/cancel", no_content, methods=["POST"]),
        Route("/v1/responses/{rid}/input_items", redirect, methods=["GET"]),
    ]
    upstream = await start_server(Starlette(routes=routes))
    try:
        yield Settings(
            ledger={"path": str(tmp_path / "ledger.db")}, openai_base_url=upstream.url + "/v1"
        )
    finally:
        await upstream.stop()


async def test_a_redirect_is_a_502_never_passed_on(tmp_path: Path) -> None:
    async with upstream_settings(tmp_path) as settings:
        thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": "sk-test-0123456789"})
        server = await start_server(create_app(thrifty))
        try:
            async with httpx.AsyncClient(base_url=server.url) as http:
                for method, path in (
                    ("GET", "/v1/responses/resp_1"),
                    ("DELETE", "/v1/responses/resp_1"),
                    ("GET", "/v1/responses/resp_1/input_items"),
                ):
                    answer = await http.request(method, path)
                    assert answer.status_code == 502, (method, path)
                    assert "location" not in answer.headers
                    assert "redirect" in answer.json()["error"]["message"]
                    assert "steal" not in answer.text
        finally:
            await server.stop()
    assert len(REDIRECTED) >= 3 and "/steal" not in REDIRECTED


async def test_the_library_raises_on_a_redirect_and_takes_a_204(tmp_path: Path) -> None:
    async with upstream_settings(tmp_path) as settings:
        environ = {"OPENAI_API_KEY": "sk-test-0123456789"}
        async with Thrifty(settings, environ=environ) as thrifty:
            with pytest.raises(UpstreamUnavailable, match="redirect") as caught:
                await thrifty.retrieve_response("resp_1")
            assert caught.value.status == 502
            cancelled = await thrifty.cancel_response("resp_1")
            assert cancelled.body == {} and cancelled.booking is None
