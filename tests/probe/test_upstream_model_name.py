"""An OpenAI-compatible upstream that reports a huge (or hostile) model name in its answer:
the paid answer must still reach the app.  The name went whole into ``x-thrifty-model``
(200 KB, percent-encoded: the client failed with "Receive buffer too long" on an answer
that was paid and booked); it is now clipped to 256 characters as the ledger clips it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

HUGE = "m\x1b[2J" + "x" * 200_000


async def chat(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": HUGE,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
    )


async def test_a_huge_reported_model_name_is_clipped_in_the_header(tmp_path: Path) -> None:
    upstream = await start_server(
        Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    )
    settings = Settings(
        ledger={"path": str(tmp_path / "ledger.db")}, openai_base_url=upstream.url + "/v1"
    )
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": "sk-test-0123456789"})
    server = await start_server(create_app(thrifty))
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
    }
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.post("/v1/chat/completions", json=body)
        assert answer.status_code == 200
        shown = answer.headers["x-thrifty-model"]
        assert shown.startswith("m%1B") and len(shown) <= 3 * 256
        assert answer.json()["choices"][0]["message"]["content"] == "hi"
        [row] = thrifty.ledger.rows()
        assert len(row.model) <= 256 and row.cost_usd is not None
    finally:
        await server.stop()
        await upstream.stop()
