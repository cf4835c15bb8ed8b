"""Pieces both translation directions share."""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.errors import BadRequest
from thrifty.types import JSON, StreamEvent, Usage

# Name ending of the tool that stands for OpenAI ``response_format`` on an Anthropic model:
# its tool_use block is unwrapped back into the message text on the way to the app.
OUTPUT_TOOL_MARK = "__thrifty_json"


def is_output_tool(name: Any) -> bool:
    """Whether a tool_use block's ``name`` is the structured-output stand-in tool."""
    return isinstance(name, str) and name.endswith(OUTPUT_TOOL_MARK)


def part_text(part: JSON, key: str) -> str:
    """A text field of a content part: a string (anything else, nested however deep, is the
    app's mistake: a 400, never a RecursionError from formatting it)."""
    value = part.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"a content part's {key!r} must be a string")
    return value


# Anthropic stop_reason -> OpenAI finish_reason.
STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# OpenAI finish_reason -> Anthropic stop_reason.
FINISH_TO_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop_reason: Any) -> str | None:
    if stop_reason is None:
        return None
    return STOP_TO_FINISH.get(str(stop_reason), "stop")


def stop_reason(finish: Any) -> str | None:
    if finish is None:
        return None
    return FINISH_TO_STOP.get(str(finish), "end_turn")


def openai_usage(u: Usage) -> JSON:
    """``Usage`` as an OpenAI ``usage`` object (prompt_tokens includes cached tokens)."""
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def anthropic_usage(u: Usage) -> JSON:
    """``Usage`` as an Anthropic ``usage`` object (input_tokens excludes cache tokens)."""
    return {
        "input_tokens": u.uncached_input_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": u.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": u.cache_write_1h_tokens,
        },
        "output_tokens": u.output_tokens,
    }


def stop_strings(value: Any, *, one_string_allowed: bool) -> list[str] | None:
    """Stop sequences as a list of strings (``[]`` for none), or ``None`` when ``value`` is
    not what the provider takes: OpenAI's ``stop`` is a string or a list of strings
    (``one_string_allowed``), Anthropic's ``stop_sequences`` a list of strings."""
    if value is None:
        return []
    if one_string_allowed and isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def stop_list(value: Any, field: str, *, one_string_allowed: bool) -> list[str]:
    """:func:`stop_strings`, where anything the provider does not take is a 400, never taken
    apart (a string read as a list would stop at each of its characters)."""
    found = stop_strings(value, one_string_allowed=one_string_allowed)
    if found is None:
        kind = "a string or an array of strings" if one_string_allowed else "an array of strings"
        raise BadRequest(f"'{field}' must be {kind}")
    return found


def unsupported(feature: str, direction: str) -> BadRequest:
    return BadRequest(
        f"{feature} is not supported when translating {direction}; send this request to a "
        "model of the same API dialect"
    )


_DIALECT_NAMES = {"openai": "OpenAI's", "anthropic": "Anthropic's"}


def shape_message(source: str, target: str, translate: bool) -> str:
    """What a body of the right JSON type with the wrong shape inside is told (a number
    where a list of parts belongs, a tool that is not an object): the app's mistake, in
    words, not the Python error it caused."""
    where = (
        f"could not be translated from {_DIALECT_NAMES[source]} form to {_DIALECT_NAMES[target]}"
        if translate
        else "could not be prepared for the provider"
    )
    return (
        f"the request body {where}: a field has an unexpected shape (an item that is not an "
        "object, a number or list where text belongs); check messages, content parts, tools "
        "and tool_choice against the API reference"
    )


def openai_sse(payload: JSON) -> StreamEvent:
    return StreamEvent(event=None, data=payload, raw=b"data: " + orjson.dumps(payload) + b"\n\n")


def openai_done() -> StreamEvent:
    return StreamEvent(event=None, data=None, raw=b"data: [DONE]\n\n")


def anthropic_sse(payload: JSON) -> StreamEvent:
    kind = payload["type"]
    raw = b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
    return StreamEvent(event=kind, data=payload, raw=raw)
