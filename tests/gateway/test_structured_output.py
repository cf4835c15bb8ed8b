"""Structured output across dialects, end to end through the official SDKs."""

from __future__ import annotations

import json

import anthropic
import openai
from pydantic import BaseModel

from tests.gateway.conftest import Gateway

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
ROUTE_TO_CLAUDE = {"X-Thrifty-Task": "impact"}  # routed to claude-sonnet-4-6


class Place(BaseModel):
    city: str
    population: int


def _check(value: object) -> None:
    assert isinstance(value, dict)
    assert set(value) == {"city", "population"}
    assert isinstance(value["city"], str) and isinstance(value["population"], int)


async def test_openai_json_schema_routed_to_claude(
    oai: openai.AsyncOpenAI, gateway: Gateway
) -> None:
    out = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Name a city."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": SCHEMA, "strict": True},
        },
        extra_headers=ROUTE_TO_CLAUDE,
    )
    assert out.model.startswith("claude")
    choice = out.choices[0]
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    _check(json.loads(choice.message.content or ""))


async def test_openai_parse_routed_to_claude(oai: openai.AsyncOpenAI) -> None:
    out = await oai.beta.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Name a city."}],
        response_format=Place,
        extra_headers=ROUTE_TO_CLAUDE,
    )
    assert out.model.startswith("claude")
    assert isinstance(out.choices[0].message.parsed, Place)


async def test_openai_json_object_stream_routed_to_claude(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Answer in JSON."}],
        response_format={"type": "json_object"},
        stream=True,
        extra_headers=ROUTE_TO_CLAUDE,
    )
    text, finish, models = "", None, set()
    async for chunk in stream:
        models.add(chunk.model)
        for choice in chunk.choices:
            assert not choice.delta.tool_calls
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert any(m.startswith("claude") for m in models)
    assert finish == "stop"
    assert isinstance(json.loads(text), dict)


async def test_openai_forced_tool_with_response_format_is_a_clear_400(
    oai: openai.AsyncOpenAI,
) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    try:
        await oai.chat.completions.create(
            model="claude-sonnet-4-6",
            messages=[{"role": "user", "content": "x"}],
            tools=[tool],  # type: ignore[list-item]
            tool_choice="required",
            response_format={"type": "json_object"},
        )
    except openai.BadRequestError as exc:
        assert "tool_choice" in str(exc)
    else:
        raise AssertionError("expected a 400")


async def test_anthropic_output_config_to_gpt(ant: anthropic.AsyncAnthropic) -> None:
    out = await ant.messages.create(
        model="gpt-4o",
        max_tokens=200,
        messages=[{"role": "user", "content": "Name a city."}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    )
    assert out.content[0].type == "text"
    _check(json.loads(out.content[0].text))
