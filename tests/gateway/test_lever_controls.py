"""Lever controls travel both ways: request headers become ``ChatRequest.metadata``, and
what a lever reports in ``ChatResponse.headers`` reaches the app as ``x-thrifty-*``."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import Gateway
from thrifty.gateway.chat import thrifty_headers
from thrifty.testing import reply, request_for

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def test_a_malformed_control_header_is_a_400_naming_it(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answer = await client.post(
            "/v1/chat/completions", json=BODY, headers={"Idempotency-Key": "two words"}
        )
    assert answer.status_code == 400
    assert "idempotency-key" in answer.json()["error"]["message"]


async def test_an_overlong_control_header_is_a_400(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answer = await client.post(
            "/v1/chat/completions", json=BODY, headers={"x-thrifty-cache": "x" * 257}
        )
    assert answer.status_code == 400


async def test_lever_headers_are_sent_with_the_x_thrifty_prefix() -> None:
    request = request_for("gpt-4o-mini")
    response = reply(request)
    response.headers["cache"] = "hit"
    assert thrifty_headers(request, response)["x-thrifty-cache"] == "hit"
