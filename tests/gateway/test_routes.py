"""Routing edges through real HTTP: unknown routes and wrong methods are answered in the
endpoint's dialect and not booked; a trailing slash is served, never redirected; an encoded
'/' is never a route; upstream errors name the provider, never a URL with credentials."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import httpx

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.providers._http import error_from_exception
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


async def test_unknown_routes_and_wrong_methods_are_not_booked(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        missing = await http.get("/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong = await http.get(ANTHROPIC, headers={"anthropic-version": "2023-06-01"})
        assert wrong.status_code == 405
        assert wrong.json()["type"] == "error"
        assert wrong.json()["error"]["type"] == "invalid_request_error"
        assert wrong.headers["x-thrifty-error"] == "method_not_allowed"
        assert "POST" in wrong.headers["allow"]
        wrong_openai = await http.delete(OPENAI)
        assert wrong_openai.status_code == 405
        assert wrong_openai.json()["error"]["code"] == "method_not_allowed"
        # A long path is not echoed in full.
        long = await http.get("/v1/" + "a" * 8000)
        assert long.status_code == 404
        assert len(long.content) < 600
        for _ in range(20):
            await http.get("/nope")
    assert gateway.rows() == []
    app = gateway.server.server.config.app
    assert app.refusals.counts["not_found"] == 22
    assert app.refusals.counts["method_not_allowed"] == 2


async def test_a_trailing_slash_is_served_not_redirected(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, follow_redirects=False) as http:
        chat = await http.post(OPENAI + "/", json=CHAT, headers={"host": "localhost:1"})
        assert chat.status_code == 200, chat.text
        assert "location" not in chat.headers
        models = await http.get("/v1/models/", headers={"host": "localhost:1"})
        assert models.status_code == 200, models.text
        assert "location" not in models.headers
        unknown = await http.get("/v1/nothing/", headers={"host": "localhost:1"})
        assert unknown.status_code == 404
        assert "location" not in unknown.headers
    assert [r.status for r in gateway.rows()] == [200]


async def test_an_encoded_slash_is_never_a_route(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for raw in ("/v1%2Fchat/completions", "/v1%2fchat%2Fcompletions", "/v1/chat%2Fcompletions"):
            response = await http.post(httpx.URL(gateway.url + raw), json=CHAT)
            assert response.status_code == 404, raw
            assert response.json()["error"]["code"] == "not_found"
        models = await http.get(httpx.URL(gateway.url + "/v1%2Fmodels"))
        assert models.status_code == 404
    assert gateway.rows() == []


async def test_model_not_found_message_stays_short(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json={**CHAT, "model": "no-such-model"})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "no-such-model" in message
    assert "openai" in message and "anthropic" in message
    assert "gpt-*" not in message and "claude-*" not in message
    assert len(message) < 250


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_credentials_in_base_url_are_never_shown(tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55word"
    base = f"http://alice:{secret}@127.0.0.1:{_closed_port()}/v1"
    settings = make_settings(
        tmp_path,
        simulate=False,
        providers={"private": {"dialect": "openai", "base_url": base, "models": ["*"]}},
    )
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.post(OPENAI, json=CHAT)
        assert response.status_code == 502, response.text
        message = response.json()["error"]["message"]
        assert "private" in message
        assert secret not in response.text and "alice" not in response.text
        assert "127.0.0.1:" not in message or "@" not in message
        rows = thrifty.ledger.rows()
        assert len(rows) == 1
        assert rows[0].error is not None
        assert secret not in rows[0].error and "alice" not in rows[0].error
    finally:
        await server.stop()


def test_error_from_exception_strips_userinfo_from_any_detail() -> None:
    url = "https://bob:hunter2-secret@llm.internal:8443/v1/chat/completions"
    invalid = error_from_exception(
        aiohttp.InvalidURL(url), provider="internal", api_key=None, url=url
    )
    assert "hunter2-secret" not in invalid.message and "bob" not in invalid.message
    assert invalid.message.startswith("could not reach internal")
    timeout = error_from_exception(
        TimeoutError(f"waiting on {url}"), provider="internal", api_key=None, url=url
    )
    assert "hunter2-secret" not in timeout.message and "bob:" not in timeout.message
    assert timeout.message.startswith("internal did not answer in time")
