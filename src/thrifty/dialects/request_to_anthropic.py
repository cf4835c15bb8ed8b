"""Request bodies: OpenAI chat completions -> Anthropic messages.

Text, system prompts, sampling parameters, stop sequences, tools, tool choice, tool calls and
tool results translate.  Anything that cannot be carried over faithfully (images, audio,
files, several choices, web search, the deprecated ``functions``, a reasoning effort) is
refused with :class:`~thrifty.errors.BadRequest` naming the feature, rather than silently
dropped.  Parameters with no counterpart that leave the answer as asked are dropped: those
that only tune sampling (penalties, seed, logit bias) or output length (``verbosity``),
and OpenAI-side bookkeeping (``store``, ``metadata``, ``prediction``, ``service_tier``,
``prompt_cache_key``).

OpenAI ``response_format`` (json_object / json_schema) becomes a forced tool whose input
schema is the requested schema (its name ends with
:data:`~thrifty.dialects._common.OUTPUT_TOOL_MARK`, so the answer's translation can unwrap
its input back into the message text).  The other direction is
:mod:`thrifty.dialects.request_to_openai`.
"""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.dialects._common import OUTPUT_TOOL_MARK, part_text, stop_list, unsupported
from thrifty.errors import BadRequest
from thrifty.types import JSON

__all__ = ["DEFAULT_MAX_TOKENS", "openai_to_anthropic_request"]

DEFAULT_MAX_TOKENS = 4096
_TO_A = "an OpenAI request for an Anthropic model"
_OPENAI_REFUSED = ("n", "audio", "modalities", "logprobs", "top_logprobs")
# Fields that change what the model does and have no Anthropic counterpart (any value).
_OPENAI_UNTRANSLATABLE = {
    "web_search_options": "web search (web_search_options)",
    "functions": "the deprecated 'functions' field (send 'tools')",
    "function_call": "the deprecated 'function_call' field (send 'tool_choice')",
}
_NO_REASONING = (None, "none", "minimal")


def _a_blocks(content: Any, role: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{role} message content must be a string or an array of parts")
    blocks: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": part_text(part, "text")})
        elif kind == "refusal" and role == "assistant":
            blocks.append({"type": "text", "text": part_text(part, "refusal")})
        elif kind == "image_url":
            raise unsupported("image content (image_url)", _TO_A)
        elif kind == "input_audio":
            raise unsupported("audio content (input_audio)", _TO_A)
        elif kind == "file":
            raise unsupported("file content", _TO_A)
        else:
            raise unsupported(f"{kind!r} content parts", _TO_A)
    return blocks


def _tool_input(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        raise BadRequest("a tool call's arguments are not valid JSON") from None
    if not isinstance(parsed, dict):
        raise BadRequest("a tool call's arguments must be a JSON object")
    return parsed


def _a_messages(messages: Any) -> tuple[list[JSON], list[JSON]]:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty array")
    system: list[JSON] = []
    out: list[JSON] = []

    def add(role: str, blocks: list[JSON]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # Anthropic wants alternating roles
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role = m.get("role") if isinstance(m, dict) else None
        if role in ("system", "developer"):
            system.extend(_a_blocks(m.get("content"), "system"))
        elif role == "user":
            add("user", _a_blocks(m.get("content"), "user"))
        elif role == "assistant":
            blocks = _a_blocks(m.get("content"), "assistant")
            for call in m.get("tool_calls") or ():
                fn = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "input": _tool_input(fn.get("arguments")),
                    }
                )
            if m.get("function_call"):
                raise unsupported("the deprecated function_call field", _TO_A)
            add("assistant", blocks)
        elif role == "tool":
            block: JSON = {"type": "tool_result", "tool_use_id": m.get("tool_call_id")}
            result = _a_blocks(m.get("content"), "tool")
            if result:
                block["content"] = result
            add("user", [block])
        elif role == "function":
            raise unsupported("the deprecated 'function' role", _TO_A)
        else:
            raise BadRequest(f"unknown message role {role!r}")
    return system, out


def _a_tools(tools: Any) -> list[JSON]:
    out: list[JSON] = []
    for tool in tools or ():
        if tool.get("type") != "function":
            raise unsupported(f"tools of type {tool.get('type')!r}", _TO_A)
        fn = tool.get("function") or {}
        spec: JSON = {
            "name": fn.get("name"),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        out.append(spec)
    return out


def _a_tool_choice(choice: Any, parallel: Any) -> JSON | None:
    result: JSON | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "none":
        result = {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        result = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        raise unsupported(f"tool_choice {choice!r}", _TO_A)
    if parallel is False:
        result = result or {"type": "auto"}
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result


def _a_output_tool(response_format: Any) -> JSON | None:
    """The forced tool standing for OpenAI ``response_format`` (``None`` for plain text)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise BadRequest("response_format must be an object")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        name, schema, description = "json_output", {"type": "object"}, None
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise BadRequest("response_format json_schema needs a 'json_schema' object")
        name = spec.get("name") or "json_output"
        schema = spec.get("schema") or {"type": "object"}
        description = spec.get("description")
        if not isinstance(name, str) or not isinstance(schema, dict):
            raise BadRequest("response_format json_schema needs a string name and an object schema")
    else:
        raise unsupported(f"response_format type {kind!r}", _TO_A)
    if schema.get("type", "object") != "object":
        raise unsupported("a response_format schema whose root is not an object", _TO_A)
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:50]
    tool: JSON = {
        "name": f"{safe}{OUTPUT_TOOL_MARK}",
        "description": (description + "\n\n" if isinstance(description, str) else "")
        + "Give your final answer by calling this tool: its input is the answer.",
        "input_schema": schema,
    }
    return tool


def _a_structured(out: JSON, tool: JSON) -> None:
    """Add the structured-output ``tool`` to ``out`` and force it, or (with the app's own
    tools and an unforced choice) make the model call a tool: the app's or the output's."""
    app_tools = out.get("tools") or []
    if any(str(t.get("name") or "").endswith(OUTPUT_TOOL_MARK) for t in app_tools):
        raise BadRequest(f"tool names ending in {OUTPUT_TOOL_MARK!r} are reserved")
    choice = out.get("tool_choice") or {}
    kind = choice.get("type") if app_tools else None
    if kind in ("any", "tool"):
        raise BadRequest(
            "response_format together with a forced tool_choice ('required' or a named "
            "function) cannot be sent to an Anthropic model: structured output is emulated "
            "there with a forced tool; drop one of them"
        )
    forced: JSON
    if kind in (None, "auto"):
        forced = {"type": "any"} if app_tools else {"type": "tool", "name": tool["name"]}
    else:  # "none": the app's tools may not be called, only the output's
        forced = {"type": "tool", "name": tool["name"]}
    if choice.get("disable_parallel_tool_use"):
        forced["disable_parallel_tool_use"] = True
    out["tools"] = [*app_tools, tool]
    out["tool_choice"] = forced


def openai_to_anthropic_request(body: JSON) -> JSON:
    """An OpenAI chat-completions body as an Anthropic messages body (``model`` is left
    for the provider to write)."""
    for key in _OPENAI_REFUSED:
        value = body.get(key)
        if value is None or value is False or (key == "n" and value == 1):
            continue
        raise unsupported(f"the {key!r} parameter", _TO_A)
    for key, feature in _OPENAI_UNTRANSLATABLE.items():
        if body.get(key) is not None:
            raise unsupported(feature, _TO_A)
    if body.get("reasoning_effort") not in _NO_REASONING:
        raise unsupported(f"reasoning_effort {body['reasoning_effort']!r}", _TO_A)
    system, messages = _a_messages(body.get("messages"))
    out: JSON = {"model": body.get("model"), "messages": messages}
    if system:
        out["system"] = system
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = max_tokens or DEFAULT_MAX_TOKENS
    temperature = body.get("temperature")
    if temperature is not None:
        out["temperature"] = min(float(temperature), 1.0)  # OpenAI allows up to 2
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = stop_list(stop, "stop", one_string_allowed=True)
    if body.get("stream"):
        out["stream"] = True
    if body.get("tools"):
        out["tools"] = _a_tools(body["tools"])
    choice = _a_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and out.get("tools"):
        out["tool_choice"] = choice
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    output_tool = _a_output_tool(body.get("response_format"))
    if output_tool is not None:
        _a_structured(out, output_tool)
    return out
