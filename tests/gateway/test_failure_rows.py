"""Every failure path through the gateway: the app gets an error in its own dialect that
carries ``x-thrifty-request-id``, and the ledger has exactly that row, saying what really
happened (the status the app got, where it failed, and a cost of $0 when no call was made
or the provider refused it, unknown when the provider may have worked on it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.upstream_settings import default_providers

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
UNKNOWN = None  # the provider may have billed it: never booked as $0


def _chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def _messages(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """The simulator as upstream, with timeouts short enough to test (the defaults wait
    minutes for a slow model)."""
    short = {"timeout_s": 1.5, "first_byte_timeout_s": 1.0, "stream_idle_timeout_s": 1.0}
    providers = {n: p.model_copy(update=short) for n, p in default_providers().items()}
    settings = make_settings(tmp_path, providers=providers, gateway={"max_body_bytes": 4096})
    async with running_gateway(settings) as running:
        yield running


# (path, body or raw bytes, content type, status, failure, cost, error code)
CASES: dict[str, tuple[str, Any, str, int, str, Decimal | None, str]] = {
    "openai text/plain": (OPENAI, b"{}", "text/plain", 415, "request", Decimal(0), "unsupported"),
    "anthropic form": (
        ANTHROPIC,
        b"{}",
        "application/x-www-form-urlencoded",
        415,
        "request",
        Decimal(0),
        "unsupported",
    ),
    "openai bad json": (OPENAI, b"{bad", "application/json", 400, "request", Decimal(0), "invalid"),
    "anthropic no max_tokens": (
        ANTHROPIC,
        {"model": "claude-3-5-haiku-latest", "messages": [{"role": "user", "content": "x"}]},
        "application/json",
        400,
        "request",
        Decimal(0),
        "invalid",
    ),
    "openai max_tokens 0": (
        OPENAI,
        _chat("x", max_tokens=0),
        "application/json",
        400,
        "request",
        Decimal(0),
        "invalid",
    ),
    "openai oversized": (
        OPENAI,
        _chat("x" * 5000),
        "application/json",
        413,
        "request",
        Decimal(0),
        "request_too_large",
    ),
    "openai unknown model": (
        OPENAI,
        {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]},
        "application/json",
        404,
        "request",
        Decimal(0),
        "model_not_found",
    ),
    "openai n for a claude model": (
        OPENAI,
        _chat("x", model="claude-3-5-haiku-latest", n=2),
        "application/json",
        400,
        "request",
        Decimal(0),
        "invalid",
    ),
    "anthropic unknown model": (
        ANTHROPIC,
        _messages("x", model="no-such-model"),
        "application/json",
        404,
        "request",
        Decimal(0),
        "model_not_found",
    ),
    "openai upstream 429": (
        OPENAI,
        _chat("x [[sim:fault=429]]"),
        "application/json",
        429,
        "upstream",
        Decimal(0),
        "rate_limited",  # the provider's own body reaches the app
    ),
    "anthropic upstream 529": (
        ANTHROPIC,
        _messages("x [[sim:fault=529]]"),
        "application/json",
        529,
        "upstream",
        Decimal(0),
        "overloaded",
    ),
    "openai upstream timeout": (
        OPENAI,
        _chat("x [[sim:fault=timeout]]"),
        "application/json",
        504,
        "upstream",
        UNKNOWN,
        "upstream_timeout",
    ),
    "anthropic stream timeout": (
        ANTHROPIC,
        _messages("x [[sim:fault=timeout]]", stream=True),
        "application/json",
        504,
        "upstream",
        UNKNOWN,
        "upstream_timeout",
    ),
    "cross-dialect timeout": (
        OPENAI,
        _chat("x [[sim:fault=timeout]]", model="claude-3-5-haiku-latest"),
        "application/json",
        504,
        "upstream",
        UNKNOWN,
        "upstream_timeout",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_failure_carries_the_id_of_the_row_that_says_what_happened(
    gateway: Gateway, case: str
) -> None:
    path, body, content_type, status, failure, cost, code = CASES[case]
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(path, content=content, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if path == ANTHROPIC:
        assert response.json()["type"] == "error" and error["type"].endswith("error")
    if failure == "request":  # thrifty's own refusal (an upstream's words are passed through)
        assert code in response.headers["x-thrifty-error"]
    [row] = gateway.rows()
    assert response.headers["x-thrifty-request-id"] == row.request_id
    assert (row.endpoint, row.status, row.failure) == (path, status, failure)
    assert row.cost_usd == cost
    assert row.error is not None and code in row.error
    assert not error["message"].endswith(": ")  # (an empty exception text is not quoted)
    if failure == "request":  # refused by thrifty: no call was made
        assert row.provider is None and row.calls == () and row.price_source == "none"
