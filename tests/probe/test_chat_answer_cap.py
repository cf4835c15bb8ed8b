"""A chat answer read whole is capped too: an upstream that sends more than
``MAX_FORWARDED_BYTES`` (by its Content-Length, or chunk by chunk) is a 502-class
``UpstreamUnavailable`` naming the provider, logged, with a ledger row that says so; an
error answer is read up to ``MAX_ERROR_BYTES`` and reported by its status alone past it.
The caps are made small here (module constants, read at call time) so that the test does
not move 64 MiB."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thrifty.config import Settings
from thrifty.errors import ThriftyError, UpstreamUnavailable
from thrifty.providers import base
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

KEY = "sk-test-0123456789abcdef"
CAP = 4096


def answer(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }
    )


async def chat(request: Request) -> Response:
    kind = (await request.json())["messages"][0]["content"]
    if kind == "declared":  # its Content-Length alone is over the cap
        return Response(answer("x" * CAP), media_type="application/json")
    if kind == "chunked":  # no Content-Length: over the cap while reading

        async def body() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * 1024
            yield answer("late")

        return StreamingResponse(body(), media_type="application/json")
    if kind == "error":  # an error answer over its own cap
        return Response(b"{" + b" " * (2 * CAP) + b"}", status_code=500)
    return Response(answer("fine"), media_type="application/json")


@asynccontextmanager
async def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Thrifty]:
    monkeypatch.setattr(base, "MAX_FORWARDED_BYTES", CAP)
    monkeypatch.setattr(base, "MAX_ERROR_BYTES", CAP)
    upstream = await start_server(
        Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    )
    try:
        settings = Settings(
            ledger={"path": str(tmp_path / "ledger.db")},  # type: ignore[arg-type]
            openai_base_url=upstream.url + "/v1",
        )
        async with Thrifty(settings, environ={"OPENAI_API_KEY": KEY}) as thrifty:
            yield thrifty
    finally:
        await upstream.stop()


def ask(kind: str) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": kind}]}


def rows(tmp_path: Path) -> list[tuple[int, str | None]]:
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        return list(db.execute("SELECT status, error FROM requests ORDER BY rowid"))


async def test_an_answer_over_the_cap_is_refused_and_booked_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thrifty")
    async with runtime(tmp_path, monkeypatch) as thrifty:
        fine = await thrifty.chat(ask("fine"))
        assert fine.body["choices"][0]["message"]["content"] == "fine"
        for kind in ("declared", "chunked"):
            with pytest.raises(UpstreamUnavailable) as caught:
                await thrifty.chat(ask(kind))
            message = str(caught.value)
            assert "openai answered with more than" in message and KEY not in message, kind
            assert "127.0.0.1" not in message
    booked = rows(tmp_path)
    assert [status for status, _ in booked] == [200, 502, 502]
    assert all("more than" in (error or "") for _, error in booked[1:])
    assert sum("more than" in r.getMessage() for r in caplog.records) == 2


async def test_an_error_answer_over_its_cap_is_reported_by_its_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runtime(tmp_path, monkeypatch) as thrifty:
        with pytest.raises(ThriftyError) as caught:
            await thrifty.chat(ask("error"))
    assert caught.value.status >= 500
    assert [status for status, _ in rows(tmp_path)] == [caught.value.status]
