"""Structured output across dialects: OpenAI response_format <-> Anthropic forced tool /
output_format."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from thrifty.dialects import (
    AnthropicToOpenAIStream,
    anthropic_to_openai_request,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from thrifty.dialects._common import OUTPUT_TOOL_MARK
from thrifty.errors import BadRequest
from thrifty.types import Usage

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
MSGS = [{"role": "user", "content": "Where?"}]


def _schema_format(name: str = "place") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": SCHEMA, "strict": True}}


def test_json_schema_becomes_a_forced_tool() -> None:
    out = openai_to_anthropic_request({"messages": MSGS, "response_format": _schema_format()})
    assert out["tools"] == [
        {
            "name": "place" + OUTPUT_TOOL_MARK,
            "description": out["tools"][0]["description"],
            "input_schema": SCHEMA,
        }
    ]
    assert out["tool_choice"] == {"type": "tool", "name": "place" + OUTPUT_TOOL_MARK}
    assert "response_format" not in out


def test_json_object_uses_an_object_schema_and_default_name() -> None:
    out = openai_to_anthropic_request(
        {"messages": MSGS, "response_format": {"type": "json_object"}}
    )
    assert out["tools"][0]["name"] == "json_output" + OUTPUT_TOOL_MARK
    assert out["tools"][0]["input_schema"] == {"type": "object"}


def test_text_format_adds_nothing() -> None:
    out = openai_to_anthropic_request({"messages": MSGS, "response_format": {"type": "text"}})
    assert "tools" not in out and "tool_choice" not in out


def _app_tool() -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def test_with_app_tools_the_model_must_call_one_of_them_or_answer() -> None:
    out = openai_to_anthropic_request(
        {"messages": MSGS, "tools": [_app_tool()], "response_format": _schema_format()}
    )
    assert [t["name"] for t in out["tools"]] == ["lookup", "place" + OUTPUT_TOOL_MARK]
    assert out["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "lookup"}}]
)
def test_forced_app_tool_choice_conflicts(choice: Any) -> None:
    body = {
        "messages": MSGS,
        "tools": [_app_tool()],
        "tool_choice": choice,
        "response_format": _schema_format(),
    }
    with pytest.raises(BadRequest, match="tool_choice"):
        openai_to_anthropic_request(body)


def test_reserved_tool_names_are_refused() -> None:
    tool = {"type": "function", "function": {"name": "x" + OUTPUT_TOOL_MARK}}
    body = {"messages": MSGS, "tools": [tool], "response_format": _schema_format()}
    with pytest.raises(BadRequest, match="reserved"):
        openai_to_anthropic_request(body)


def test_non_object_root_schema_is_refused() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array"}}}
    with pytest.raises(BadRequest, match="root"):
        openai_to_anthropic_request({"messages": MSGS, "response_format": fmt})


def _message(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {"id": "msg_1", "model": "claude", "content": content, "stop_reason": stop}


def test_response_unwraps_the_output_tool_into_content() -> None:
    block = {
        "type": "tool_use",
        "id": "t1",
        "name": "p" + OUTPUT_TOOL_MARK,
        "input": {"city": "Paris"},
    }
    out = anthropic_to_openai_response(_message([block]), Usage())
    choice = out["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == {"city": "Paris"}
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_response_keeps_real_tool_calls() -> None:
    block = {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}
    out = anthropic_to_openai_response(_message([block]), Usage())
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert out["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"


def test_stream_unwraps_the_output_tool_into_content() -> None:
    tr = AnthropicToOpenAIStream(model="m", include_usage=False)
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude"}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": "t",
                "name": "p" + OUTPUT_TOOL_MARK,
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
        {"type": "message_stop"},
    ]
    chunks = [ev.data for e in events for ev in tr.feed(e, Usage()) if ev.data is not None]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert orjson.loads(text) == {"city": "Paris"}
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


A_MSGS = [{"role": "user", "content": "Where?"}]
EXPECTED = {
    "type": "json_schema",
    "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
}


@pytest.mark.parametrize(
    "extra",
    [
        {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
        {"output_format": {"type": "json_schema", "schema": SCHEMA}},
    ],
)
def test_anthropic_output_format_becomes_response_format(extra: dict[str, Any]) -> None:
    out = anthropic_to_openai_request({"max_tokens": 10, "messages": A_MSGS, **extra})
    assert out["response_format"] == EXPECTED


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"output_config": {"effort": "low"}}, "output_config.effort"),
        ({"output_format": {"type": "xml"}}, "'xml'"),
    ],
)
def test_anthropic_output_settings_without_counterpart_are_refused(
    extra: dict[str, Any], named: str
) -> None:
    with pytest.raises(BadRequest, match=named):
        anthropic_to_openai_request({"max_tokens": 10, "messages": A_MSGS, **extra})
