"""A field that changes what the model does and has no counterpart in the other dialect is
a clear 400 naming it, booked as refused, with no upstream call: never silently dropped
(the upstream would answer without the web search, the tools or the reasoning asked for).
The same field to a model of the app's own dialect is forwarded as it is, and a routing
rule whose target cannot take it is skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from tests.gateway.test_auth import upstream_calls
from thrifty.serving import start_server
from thrifty.sim import SimConfig
from thrifty.sim import create_app as create_sim_app

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


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        # A string read as a list would stop the answer at each of its characters.
        (ANTHROPIC, {"model": GPT, "max_tokens": 5, "stop_sequences": "abc"}, "stop_sequences"),
        (OPENAI, {"model": CLAUDE, "stop": {"a": 1}}, "'stop'"),
        (OPENAI, {"model": CLAUDE, "stop": ["a", 5]}, "'stop'"),
        # A tool_choice Anthropic would refuse was ignored, and the model chose freely.
        (
            ANTHROPIC,
            {
                "model": GPT,
                "max_tokens": 5,
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": "any",
            },
            "tool_choice",
        ),
    ],
)
async def test_a_field_of_the_wrong_shape_is_refused_not_taken_apart(
    gateway: Gateway, path: str, body: dict[str, Any], named: str
) -> None:
    before = await upstream_calls(gateway)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(path, json={**body, "messages": USER})
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    assert await upstream_calls(gateway) == before


class BodyRecorder:
    """ASGI middleware in front of the simulator: the JSON body of each call it received."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.bodies.append(orjson.loads(b"".join(chunks)))
            return message

        await self.app(scope, recording_receive, send)


async def test_one_stop_string_is_one_stop_sequence(tmp_path: Path) -> None:
    recorder = BodyRecorder(create_sim_app(SimConfig()))
    upstream = await start_server(recorder)
    settings = make_settings(tmp_path, simulate=False, anthropic_base_url=upstream.url)
    async with running_gateway(settings) as gateway, httpx.AsyncClient() as http:
        body = {"model": CLAUDE, "messages": USER, "stop": "reply"}
        response = await http.post(gateway.url + OPENAI, json=body)
    await upstream.stop()
    assert response.status_code == 200, response.text
    [sent] = recorder.bodies
    assert sent["stop_sequences"] == ["reply"]


HUGE = "z" * 1_000_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (OPENAI, {"model": CLAUDE, "response_format": {"type": HUGE}}),
        (
            OPENAI,
            {
                "model": CLAUDE,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
                "tool_choice": {"type": HUGE},
            },
        ),
        (ANTHROPIC, {"model": GPT, "max_tokens": 5, "output_config": {HUGE: 1}}),
        (ANTHROPIC, {"model": GPT, "max_tokens": 5, "tools": [{"type": HUGE, "name": "x"}]}),
    ],
)
async def test_a_refusal_quotes_at_most_a_bounded_part_of_what_was_sent(
    gateway: Gateway, path: str, body: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(path, json={**body, "messages": USER})
    assert response.status_code == 400
    assert len(response.content) < 2500
    assert response.json()["error"]["message"].endswith("…")
    [row] = gateway.rows()
    assert row.error is not None and len(row.error) <= 2000
