"""A field that changes what the model does and has no counterpart in the other dialect is
a clear 400 naming it, booked as refused, with no upstream call: never silently dropped
(the upstream would answer without the web search, the tools or the reasoning asked for).
The same field to a model of the app's own dialect is forwarded as it is, and a routing
rule whose target cannot take it is skipped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.test_auth import upstream_calls

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
USER = [{"role": "user", "content": "what is new today?"}]
CLAUDE = "claude-3-5-haiku-latest"
GPT = "gpt-4o-mini"

OPENAI_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"web_search_options": {}}, "web_search_options"),
    (
        {"functions": [{"name": "f", "parameters": {"type": "object", "properties": {}}}]},
        "'functions'",
    ),
    ({"function_call": "auto"}, "'function_call'"),
    ({"reasoning_effort": "high"}, "reasoning_effort 'high'"),
]
ANTHROPIC_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "extended thinking"),
    ({"mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "m"}]}, "MCP"),
    ({"container": "container_011"}, "container"),
    ({"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}}, "context"),
]


@pytest.mark.parametrize(("extra", "named"), OPENAI_FIELDS)
async def test_an_openai_field_without_an_anthropic_counterpart_is_refused(
    gateway: Gateway, extra: dict[str, Any], named: str
) -> None:
    before = await upstream_calls(gateway)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json={"model": CLAUDE, "messages": USER, **extra})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert named in error["message"] and error["type"] == "invalid_request_error"
    assert await upstream_calls(gateway) == before
    [row] = gateway.rows()
    assert (row.status, row.failure, row.cost_usd) == (400, "request", 0)


@pytest.mark.parametrize(("extra", "named"), ANTHROPIC_FIELDS)
async def test_an_anthropic_field_without_an_openai_counterpart_is_refused(
    gateway: Gateway, extra: dict[str, Any], named: str
) -> None:
    before = await upstream_calls(gateway)
    body = {"model": GPT, "max_tokens": 2000, "messages": USER, **extra}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(ANTHROPIC, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert named in response.json()["error"]["message"]
    assert await upstream_calls(gateway) == before
    [row] = gateway.rows()
    assert (row.status, row.failure, row.cost_usd) == (400, "request", 0)


@pytest.mark.parametrize(
    "extra",
    [
        {"reasoning_effort": "minimal"},
        {"verbosity": "low", "store": False, "seed": 3, "prompt_cache_key": "k"},
    ],
)
async def test_fields_that_leave_the_answer_as_asked_still_translate(
    gateway: Gateway, extra: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json={"model": CLAUDE, "messages": USER, **extra})
    assert response.status_code == 200, response.text


async def test_disabled_thinking_translates(gateway: Gateway) -> None:
    body = {"model": GPT, "max_tokens": 50, "messages": USER, "thinking": {"type": "disabled"}}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(ANTHROPIC, json=body)
    assert response.status_code == 200, response.text


async def test_a_routing_rule_whose_target_cannot_take_the_field_is_skipped(
    gateway: Gateway,
) -> None:
    # The fixture routes task "impact" to claude-sonnet-4-6; web search needs the GPT model.
    search = "gpt-4o-mini-search-preview"
    body = {"model": search, "messages": USER, "web_search_options": {}}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json=body, headers={"x-thrifty-task": "impact"})
    assert response.status_code == 200, response.text
    [row] = gateway.rows()
    assert (row.task, row.model) == ("impact", search)
