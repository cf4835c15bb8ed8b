"""Anthropic `POST /v1/messages/count_tokens` through the gateway: forwarded to the
provider, free, and not booked."""

from __future__ import annotations

import anthropic
import httpx

from tests.gateway.conftest import Gateway


async def test_count_tokens_is_forwarded_and_not_booked(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    counted = await ant.messages.count_tokens(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "how many tokens is this sentence?"}],
    )
    assert counted.input_tokens > 0
    assert gateway.rows() == []  # free: nothing generated, nothing to book


async def test_count_tokens_for_a_gpt_model_is_a_clear_400(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(
            "/v1/messages/count_tokens",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        )
        bad = await http.post("/v1/messages/count_tokens", content=b"not json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "Anthropic-API" in error["message"]
    assert bad.status_code == 400


async def test_count_tokens_over_the_body_limit_is_a_413_in_anthropic_form(
    gateway: Gateway,
) -> None:
    """It read any body whole before looking at it; now the gateway's body limit holds."""
    limit = gateway.thrifty.settings.gateway.max_body_bytes
    text = "x" * (limit + 1)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(
            "/v1/messages/count_tokens",
            json={"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": text}]},
        )
    assert response.status_code == 413
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "request_too_large"
    assert gateway.rows() == []


async def test_count_tokens_takes_json_only_like_the_chat_routes(gateway: Gateway) -> None:
    body = b'{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"x"}]}'
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        plain = await http.post(
            "/v1/messages/count_tokens", content=body, headers={"content-type": "text/plain"}
        )
        typed = await http.post(
            "/v1/messages/count_tokens",
            content=body,
            headers={"content-type": "application/json; charset=utf-8"},
        )
    assert plain.status_code == 415
    assert plain.json()["type"] == "error"
    assert plain.json()["error"]["type"] == "invalid_request_error"
    assert typed.status_code == 200
    assert gateway.rows() == []
