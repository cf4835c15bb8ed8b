"""Checks shared by the gateway tests of OpenAI's other operations (Responses, embeddings,
legacy completions)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import Gateway


async def assert_rejected(gateway: Gateway, path: str, body: dict[str, Any], message: str) -> None:
    """``body`` posted to ``path`` is a 400 whose message says ``message``, booked as a
    rejected request at $0."""
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(path, json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.failure) == (path, 400, "request")
    assert row.cost_usd == 0


async def assert_refused_for_anthropic(gateway: Gateway, call: Awaitable[object]) -> None:
    """``call`` (an SDK call for a model an Anthropic provider serves) is a clear 400,
    booked at $0 with no provider."""
    with pytest.raises(openai.BadRequestError, match="OpenAI-compatible providers only"):
        await call
    [row] = gateway.rows()
    assert (row.status, row.provider, row.cost_usd) == (400, None, 0)


def sync_client(gateway: Gateway) -> openai.OpenAI:
    """The blocking SDK client on the gateway (call it from a worker thread)."""
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="app-key", max_retries=0)
