from __future__ import annotations

from typing import Any

import pytest

from thrifty.dialects import (
    DEFAULT_MAX_TOKENS,
    anthropic_to_openai_request,
    openai_to_anthropic_request,
)
from thrifty.errors import BadRequest

WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Get the weather",
    "input_schema": WEATHER_TOOL_OPENAI["function"]["parameters"],  # type: ignore[index]
}


def test_openai_to_anthropic_basic() -> None:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        ],
        "max_completion_tokens": 100,
        "temperature": 1.5,
        "top_p": 0.9,
        "stop": "END",
        "stream": True,
        "stream_options": {"include_usage": True},
        "frequency_penalty": 0.2,
        "user": "u-1",
    }
    out = openai_to_anthropic_request(body)
    assert out == {
        "model": "gpt-4o",
        "system": [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "No emoji."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        ],
        "max_tokens": 100,
        "temperature": 1.0,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "stream": True,
        "metadata": {"user_id": "u-1"},
    }
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}  # not mutated


def test_openai_to_anthropic_max_tokens_default_and_legacy_field() -> None:
    msgs = [{"role": "user", "content": "x"}]
    assert openai_to_anthropic_request({"messages": msgs})["max_tokens"] == DEFAULT_MAX_TOKENS
    assert openai_to_anthropic_request({"messages": msgs, "max_tokens": 7})["max_tokens"] == 7


def test_openai_to_anthropic_tools_round_trip() -> None:
    body: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
        ],
        "tools": [WEATHER_TOOL_OPENAI],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    out = openai_to_anthropic_request(body)
    assert out["tools"] == [WEATHER_TOOL_ANTHROPIC]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
    }
    # Both tool results merge into ONE user turn (Anthropic alternates roles).
    assert out["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "call_1",
                "content": [{"type": "text", "text": "18C"}],
            },
            {
                "type": "tool_result",
                "tool_use_id": "call_2",
                "content": [{"type": "text", "text": "24C"}],
            },
        ],
    }
    back = anthropic_to_openai_request({**out, "max_tokens": 5})
    assert back["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert [m["role"] for m in back["messages"]] == ["user", "assistant", "tool", "tool"]
    assert back["tools"] == [WEATHER_TOOL_OPENAI]
    assert back["tool_choice"] == "required"
    assert back["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL_OPENAI]}
    assert openai_to_anthropic_request({**body, "tool_choice": choice})["tool_choice"] == expected


@pytest.mark.parametrize(
    ("part", "feature"),
    [
        ({"type": "image_url", "image_url": {"url": "https://x/y.png"}}, "image"),
        ({"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}, "audio"),
        ({"type": "file", "file": {"file_id": "f"}}, "file"),
    ],
)
def test_openai_unsupported_content_is_refused_by_name(part: dict[str, Any], feature: str) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, part]}]}
    with pytest.raises(BadRequest, match=feature) as info:
        openai_to_anthropic_request(body)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("extra", "feature"),
    [
        ({"n": 2}, "'n'"),
        ({"response_format": {"type": "grammar"}}, "response_format type .grammar."),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"logprobs": True}, "logprobs"),
    ],
)
def test_openai_unsupported_parameters_are_refused(extra: dict[str, Any], feature: str) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], **extra}
    with pytest.raises(BadRequest, match=feature):
        openai_to_anthropic_request(body)


def test_openai_harmless_defaults_pass() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "n": 1,
        "response_format": {"type": "text"},
        "logprobs": False,
    }
    assert openai_to_anthropic_request(body)["messages"]


def test_anthropic_to_openai_basic() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
        ],
        "temperature": 0.3,
        "top_k": 5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    out = anthropic_to_openai_request(body)
    assert out == {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
        ],
        "max_completion_tokens": 256,
        "temperature": 0.3,
        "stop": ["END"],
        "user": "u-1",
    }
    local = anthropic_to_openai_request(body, max_tokens_field="max_tokens")
    assert local["max_tokens"] == 256 and "max_completion_tokens" not in local


def test_anthropic_tool_result_comes_before_user_text() -> None:
    body = {
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "P"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    }
    out = anthropic_to_openai_request(body)
    assert out["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "w", "arguments": '{"c":"P"}'},
            }
        ],
    }
    assert out["messages"][2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}
    assert out["messages"][3] == {"role": "user", "content": "thanks"}


@pytest.mark.parametrize(
    ("block", "feature"),
    [
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}},
            "image",
        ),
        (
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "x"},
            },
            "document",
        ),
    ],
)
def test_anthropic_unsupported_content_is_refused(block: dict[str, Any], feature: str) -> None:
    body = {"max_tokens": 5, "messages": [{"role": "user", "content": [block]}]}
    with pytest.raises(BadRequest, match=feature):
        anthropic_to_openai_request(body)


def test_anthropic_server_tools_are_refused() -> None:
    body = {
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
    }
    with pytest.raises(BadRequest, match="server tools"):
        anthropic_to_openai_request(body)


def test_empty_messages_refused() -> None:
    with pytest.raises(BadRequest):
        openai_to_anthropic_request({"messages": []})
    with pytest.raises(BadRequest):
        anthropic_to_openai_request({"messages": [], "max_tokens": 1})


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("text", [5, None, ["x"], {"a": 1}, _nested(5000)])
def test_text_that_is_not_a_string_is_refused_in_both_directions(text: Any) -> None:
    """Never str() an arbitrary value: a deeply nested one raised RecursionError (a 500)."""
    with pytest.raises(BadRequest, match="'text' must be a string"):
        openai_to_anthropic_request(
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            }
        )
    with pytest.raises(BadRequest, match="'text' must be a string"):
        anthropic_to_openai_request(
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            }
        )
    with pytest.raises(BadRequest, match="'refusal' must be a string"):
        openai_to_anthropic_request(
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": [{"type": "refusal", "refusal": text}]},
                ],
            }
        )
    with pytest.raises(BadRequest, match="'text' must be a string"):
        anthropic_to_openai_request(
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": [{"type": "text", "text": text}]},
                ],
            }
        )


def test_a_missing_text_is_empty() -> None:
    body = openai_to_anthropic_request(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}
    )
    assert body["messages"][0]["content"] == [{"type": "text", "text": ""}]
