"""Shared request bodies and helpers for the request view tests."""

from __future__ import annotations

from typing import Any

from thrifty.dialects.view import (
    RequestView,
)
from thrifty.types import ChatRequest, Dialect


def req(dialect: Dialect, body: Any, **kw: Any) -> ChatRequest:
    model = body.get("model", "m") if isinstance(body, dict) else "m"
    return ChatRequest(
        dialect=dialect, body=body, model=kw.pop("model", model), requested_model=model, **kw
    )


def key(dialect: Dialect, body: Any, **kw: Any) -> str:
    return RequestView.of(req(dialect, body, **kw)).cache_key()


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def openai_body() -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "assistant", "content": "18C in Paris."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/img.png"}},
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the weather",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ],
        "max_tokens": 300,
        "temperature": 0.2,
        "stop": "END",
        "seed": 7,
        "response_format": {"type": "json_object"},
    }


def anthropic_body() -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 500,
        "system": [
            {"type": "text", "text": "Be terse."},
            {"type": "text", "text": "No emoji.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "18C"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Get the weather",
                "input_schema": WEATHER_SCHEMA,
            },
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        "temperature": 0.5,
        "top_k": 40,
        "stop_sequences": ["END"],
    }
