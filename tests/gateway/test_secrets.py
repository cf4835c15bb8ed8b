"""Provider keys never leak: not in the responses the app gets (bodies and headers, JSON and
streams), not in the ledger, not in the logs, whatever the upstream does (5xx, 429, a cut
stream, a refused connection, or an error message that echoes the key back verbatim).
The upstream does receive the key."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.gateway.conftest import make_settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, free_port, start_server
from thrifty.sim import SimConfig
from thrifty.sim import create_app as create_sim_app

OPENAI_SECRET = "sk-test-SECRET-abcdef123456"
ANTHROPIC_SECRET = "sk-ant-test-SECRET-xyz987654321"
SECRETS = (OPENAI_SECRET, ANTHROPIC_SECRET)
ENVIRON = {"OPENAI_API_KEY": OPENAI_SECRET, "ANTHROPIC_API_KEY": ANTHROPIC_SECRET}
# Fragments that would betray a partly-masked or partly-truncated key.
FRAGMENTS = ("SECRET-abcdef", "abcdef123456", "SECRET-xyz", "xyz987654321")

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
APP_HEADERS = {"authorization": "Bearer app-key", "x-api-key": "app-key"}


def assert_clean(text: str, where: str) -> None:
    for needle in (*SECRETS, *FRAGMENTS):
        assert needle not in text, f"{needle!r} leaked into {where}: {text[:2000]}"


@dataclass
class KeyRecorder:
    """ASGI middleware: remembers the credentials each upstream request carried."""

    app: ASGIApp
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            bearer = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
            self.seen.append((scope["path"], bearer or headers.get(b"x-api-key", b"").decode()))
        await self.app(scope, receive, send)


def _last_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content)


async def _hostile(request: Request) -> Response:
    """An upstream whose errors quote the key it was sent, in full."""
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    key = request.headers.get("x-api-key") or bearer
    body = orjson.loads(await request.body())
    text = _last_user_text(body)
    quoted = f"Incorrect API key provided: {key}. You sent {key}."
    if "echo-401" in text:
        return JSONResponse(
            {"error": {"message": quoted, "type": "authentication_error"}}, status_code=401
        )
    if "echo-500-text" in text:
        return PlainTextResponse(f"upstream crashed handling {key}", status_code=500)
    if "echo-long" in text:
        # A long message that puts the key where a length cap would cut through it.
        message = "x" * 470 + f" {key} " + "y" * 200
        return JSONResponse({"error": {"message": message, "type": "api_error"}}, 500)
    if "echo-stream" in text:
        event = {"type": "error", "error": {"type": "api_error", "message": quoted}}
        payload = b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
        if request.url.path.endswith("/chat/completions"):
            payload = b"data: " + orjson.dumps({"error": event["error"]}) + b"\n\n"
        return Response(payload, media_type="text/event-stream")
    return JSONResponse({"error": {"message": quoted, "type": "invalid_request_error"}}, 400)


@dataclass
class Gw:
    url: str
    thrifty: Thrifty

    def rows(self) -> list[LedgerRow]:
        return self.thrifty.ledger.rows()


@dataclass
class Setup:
    sim_url: str
    recorder: KeyRecorder  # in front of the simulator
    hostile_recorder: KeyRecorder
    sim: Gw  # gateway -> simulator
    hostile: Gw  # gateway -> an upstream that echoes the key in its errors
    closed: Gw  # gateway -> a port nobody listens on


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    recorder = KeyRecorder(create_sim_app(SimConfig()))
    hostile_recorder = KeyRecorder(
        Starlette(routes=[Route("/{path:path}", _hostile, methods=["POST"])])
    )
    servers: list[RunningServer] = []
    try:
        sim = await start_server(recorder)
        servers.append(sim)
        hostile = await start_server(hostile_recorder)
        servers.append(hostile)
        closed = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
        gateways: list[Gw] = []
        for name, base in (("sim", sim.url), ("hostile", hostile.url), ("closed", closed)):
            settings = make_settings(
                tmp_path,
                ledger={"path": str(tmp_path / f"{name}.db")},
                simulate=False,
                openai_base_url=base + "/v1",
                anthropic_base_url=base,
            )
            thrifty = Thrifty(settings, environ=ENVIRON)
            server = await start_server(create_app(thrifty))
            servers.append(server)
            gateways.append(Gw(server.url, thrifty))
        yield Setup(sim.url, recorder, hostile_recorder, *gateways)
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


def _body(dialect: str, text: str, *, stream: bool) -> dict[str, Any]:
    if dialect == "openai":
        return {
            "model": "gpt-4o-mini",
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


async def _call(gw: Gw, dialect: str, text: str, *, stream: bool) -> httpx.Response:
    path = OPENAI if dialect == "openai" else ANTHROPIC
    async with httpx.AsyncClient(base_url=gw.url, timeout=30.0) as http:
        response = await http.post(
            path, json=_body(dialect, text, stream=stream), headers=APP_HEADERS
        )
        await response.aread()
        return response


def _assert_response_clean(response: httpx.Response) -> None:
    assert_clean(response.text, "the response body")
    raw_headers = "\n".join(f"{k!r}: {v!r}" for k, v in response.headers.raw)
    assert_clean(raw_headers, "the response headers")


def _assert_ledger_clean(rows: list[LedgerRow]) -> None:
    assert rows
    for row in rows:
        for f in dataclasses.fields(row):
            assert_clean(repr(getattr(row, f.name)), f"ledger field {f.name}")


def _assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert_clean(text, f"log record {record.name}")
    assert_clean(caplog.text, "the captured log")


DIALECTS = ("openai", "anthropic")
SECRET_OF = {"openai": OPENAI_SECRET, "anthropic": ANTHROPIC_SECRET}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("429", 429), ("503", 503)])
async def test_simulator_faults_do_not_leak_keys(
    setup: Setup,
    caplog: pytest.LogCaptureFixture,
    dialect: str,
    stream: bool,
    fault: str,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _call(setup.sim, dialect, f"hello [[sim:fault={fault}]]", stream=stream)
    assert response.status_code == status, response.text
    _assert_response_clean(response)
    rows = setup.sim.rows()
    assert [row.status for row in rows] == [status]
    assert rows[0].error
    _assert_ledger_clean(rows)
    _assert_logs_clean(caplog)
    # The upstream did get the provider key (and never the app's key).
    assert setup.recorder.seen == [
        (OPENAI if dialect == "openai" else ANTHROPIC, SECRET_OF[dialect])
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_cut_stream_does_not_leak_keys(
    setup: Setup, caplog: pytest.LogCaptureFixture, dialect: str
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _call(setup.sim, dialect, "hello [[sim:fault=cut]]", stream=True)
    _assert_response_clean(response)
    _assert_ledger_clean(setup.sim.rows())
    _assert_logs_clean(caplog)
    assert [key for _, key in setup.recorder.seen] == [SECRET_OF[dialect]]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True])
async def test_successful_calls_do_not_leak_keys(
    setup: Setup, caplog: pytest.LogCaptureFixture, dialect: str, stream: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _call(setup.sim, dialect, "hello", stream=stream)
    assert response.status_code == 200, response.text
    _assert_response_clean(response)
    _assert_ledger_clean(setup.sim.rows())
    _assert_logs_clean(caplog)
    assert [key for _, key in setup.recorder.seen] == [SECRET_OF[dialect]]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True])
async def test_connection_refused_does_not_leak_keys(
    setup: Setup, caplog: pytest.LogCaptureFixture, dialect: str, stream: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _call(setup.closed, dialect, "hello", stream=stream)
    assert response.status_code == 502, response.text
    _assert_response_clean(response)
    rows = setup.closed.rows()
    assert [row.status for row in rows] == [502]
    _assert_ledger_clean(rows)
    _assert_logs_clean(caplog)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("text", "stream", "status"),
    [
        ("echo-401", False, 401),
        ("echo-401", True, 401),
        ("echo-500-text", False, 500),
        ("echo-500-text", True, 500),
        ("echo-stream", True, None),
        ("anything else", False, 400),
    ],
)
async def test_upstream_echoing_the_key_is_scrubbed(
    setup: Setup,
    caplog: pytest.LogCaptureFixture,
    dialect: str,
    text: str,
    stream: bool,
    status: int | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await _call(setup.hostile, dialect, text, stream=stream)
    if status is not None:
        assert response.status_code == status, response.text
    _assert_response_clean(response)
    rows = setup.hostile.rows()
    assert len(rows) == 1
    assert rows[0].error
    _assert_ledger_clean(rows)
    _assert_logs_clean(caplog)
    # The hostile upstream really had the key to echo.
    assert [key for _, key in setup.hostile_recorder.seen] == [SECRET_OF[dialect]]


CUSTOM_SECRET = "cUsT0mKeyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


async def test_key_cut_by_the_message_length_cap_is_still_scrubbed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A key that does not look like ``sk-...`` is only recognisable verbatim, so it must be
    scrubbed before the upstream message is shortened, not after."""
    caplog.set_level(logging.DEBUG)
    recorder = KeyRecorder(Starlette(routes=[Route("/{path:path}", _hostile, methods=["POST"])]))
    upstream = await start_server(recorder)
    try:
        settings = make_settings(
            tmp_path,
            simulate=False,
            providers={
                "custom": {
                    "dialect": "openai",
                    "base_url": upstream.url + "/v1",
                    "api_key_env": "CUSTOM_API_KEY",
                    "models": ["*"],
                }
            },
        )
        thrifty = Thrifty(settings, environ={"CUSTOM_API_KEY": CUSTOM_SECRET})
        gateway = await start_server(create_app(thrifty))
        try:
            gw = Gw(gateway.url, thrifty)
            response = await _call(gw, "openai", "echo-long", stream=False)
            assert response.status_code == 500, response.text
            assert [key for _, key in recorder.seen] == [CUSTOM_SECRET]
            leaks = [CUSTOM_SECRET[i : i + 12] for i in range(0, len(CUSTOM_SECRET) - 11, 4)]
            texts = {
                "the response body": response.text,
                "the ledger": repr(gw.rows()),
                "the captured log": caplog.text,
            }
            for where, text in texts.items():
                for fragment in leaks:
                    assert fragment not in text, f"part of the key leaked into {where}"
        finally:
            await gateway.stop()
    finally:
        await upstream.stop()
