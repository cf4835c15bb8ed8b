"""RequestView: reading both dialects."""

from __future__ import annotations

from tests.dialects.view_bodies import WEATHER_SCHEMA, anthropic_body, openai_body, req
from thrifty.dialects.view import (
    Part,
    RequestView,
    Tool,
    Turn,
    text_part,
)

# -- reading ---------------------------------------------------------------------------------


def test_openai_read() -> None:
    body = openai_body()
    view = RequestView.of(req("openai", body, stream=True))
    assert view.system == "Be terse.\nNo emoji."
    assert [p.text for p in view.system_parts] == ["Be terse.", "No emoji."]
    roles = [t.role for t in view.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert view.messages[0] == Turn(
        "user", (text_part("Weather in Paris?"),), body["messages"][2], "openai"
    )
    call = view.messages[1].parts[0]
    assert (call.kind, call.id, call.name, call.input) == (
        "tool_call",
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert view.messages[1].tool_calls == (call,)
    result = view.messages[2].parts[0]
    assert (result.kind, result.id, result.all_text) == ("tool_result", "call_1", "18C")
    assert view.messages[2].tool_results == (result,)
    assert view.messages[2].text == "18C"
    last = view.messages[4]
    assert last.text == "And this?"
    assert last.parts[1].kind == "other"
    assert last.parts[1].raw is body["messages"][6]["content"][1]
    assert view.tools == (
        Tool("get_weather", "Get the weather", WEATHER_SCHEMA, "function", body["tools"][0]),
    )
    assert view.max_output_tokens == 300
    assert view.sampling == {"temperature": 0.2, "stop": ["END"], "seed": 7}
    assert view.stop == ["END"]
    assert view.response_format == {"type": "json_object"}
    assert view.stream is True


def test_openai_max_completion_tokens_wins_and_bools_are_not_counts() -> None:
    body = {"messages": [], "max_completion_tokens": 50, "max_tokens": 80}
    assert RequestView.of(req("openai", body)).max_output_tokens == 50
    assert RequestView.of(req("openai", {"max_tokens": 80})).max_output_tokens == 80
    assert RequestView.of(req("openai", {"max_tokens": True})).max_output_tokens is None
    assert RequestView.of(req("openai", {})).max_output_tokens is None


def test_anthropic_read() -> None:
    body = anthropic_body()
    view = RequestView.of(req("anthropic", body))
    assert view.system == "Be terse.\nNo emoji."
    assert view.system_parts[1].raw is body["system"][1]
    assert [t.role for t in view.messages] == ["user", "assistant", "user"]
    thinking, text, call = view.messages[1].parts
    assert thinking == Part("other", raw=body["messages"][1]["content"][0])
    assert text.text == "Checking."
    assert (call.kind, call.id, call.name, call.input) == (
        "tool_call",
        "toolu_1",
        "get_weather",
        {"city": "Paris"},
    )
    result, thanks = view.messages[2].parts
    assert (result.kind, result.id, result.is_error, result.all_text) == (
        "tool_result",
        "toolu_1",
        False,
        "18C",
    )
    assert thanks.text == "Thanks"
    assert view.messages[2].text == "18C\nThanks"
    assert view.tools[0] == Tool(
        "get_weather", "Get the weather", WEATHER_SCHEMA, "function", body["tools"][0]
    )
    assert view.tools[1] == Tool("web_search", None, None, "web_search_20250305", body["tools"][1])
    assert view.max_output_tokens == 500
    assert view.sampling == {"temperature": 0.5, "top_k": 40, "stop": ["END"]}
    assert view.response_format is None
    assert view.stream is False


def test_anthropic_system_string_and_response_format() -> None:
    schema = {"type": "json_schema", "schema": {"type": "object"}}
    view = RequestView.of(
        req("anthropic", {"system": "Hi", "messages": [], "output_config": {"format": schema}})
    )
    assert view.system == "Hi"
    assert view.response_format == schema
    assert RequestView.of(req("anthropic", {"output_format": schema})).response_format == schema
    assert RequestView.of(req("anthropic", {"messages": []})).system is None


def test_anthropic_tool_error_result() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": True}
                ],
            }
        ]
    }
    (part,) = RequestView.of(req("anthropic", body)).messages[0].parts
    assert part.is_error
    assert part.content == (text_part("boom"),)
