"""Request bodies: OpenAI chat completions <-> Anthropic messages.

Text, system prompts, sampling parameters, stop sequences, tools, tool choice, tool calls and
tool results translate.  Anything that cannot be carried over faithfully (images, audio,
files, several choices, server-side tools) is refused with
:class:`~thrifty.errors.BadRequest` naming the feature, rather than silently dropped.
Parameters with no counterpart that only tune sampling (penalties, seed, logit bias, top_k)
are dropped.

Structured output crosses too.  OpenAI ``response_format`` (json_object / json_schema) for
an Anthropic model becomes a forced tool whose input schema is the requested schema (its
name ends with :data:`~thrifty.dialects._common.OUTPUT_TOOL_MARK`, so the answer's
translation can unwrap its input back into the message text); Anthropic ``output_format``
/ ``output_config.format`` becomes OpenAI's native ``response_format`` json_schema.
"""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.dialects._common import OUTPUT_TOOL_MARK, unsupported
from thrifty.errors import BadRequest
from thrifty.types import JSON

__all__ = ["DEFAULT_MAX_TOKENS", "anthropic_to_openai_request", "openai_to_anthropic_request"]

DEFAULT_MAX_TOKENS = 4096
_TO_A = "an OpenAI request for an Anthropic model"
_TO_O = "an Anthropic request for an OpenAI-compatible model"
_OPENAI_REFUSED = ("n", "audio", "modalities", "logprobs", "top_logprobs")


# -- OpenAI -> Anthropic -----------------------------------------------------------------


def _text(part: JSON, key: str) -> str:
    """A text field of a content part: a string (anything else, nested however deep, is the
    app's mistake: a 400, never a RecursionError from formatting it)."""
    value = part.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"a content part's {key!r} must be a string")
    return value


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
            blocks.append({"type": "text", "text": _text(part, "text")})
        elif kind == "refusal" and role == "assistant":
            blocks.append({"type": "text", "text": _text(part, "refusal")})
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
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
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


# -- Anthropic -> OpenAI -----------------------------------------------------------------


def _o_text_parts(content: Any, where: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[JSON] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, "text")})
        elif kind == "image":
            raise unsupported(f"image content in {where}", _TO_O)
        elif kind == "document":
            raise unsupported(f"document content in {where}", _TO_O)
        else:
            raise unsupported(f"{kind!r} content blocks in {where}", _TO_O)
    return parts


def _o_collapse(parts: list[JSON]) -> Any:
    """A single text part as a plain string (what most OpenAI-compatible servers expect)."""
    if len(parts) == 1:
        return parts[0]["text"]
    return parts


def _o_user(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_msgs: list[JSON] = []
    blocks: list[JSON] = []
    for block in content or ():
        if isinstance(block, dict) and block.get("type") == "tool_result":
            result = block.get("content")
            text = _o_collapse(_o_text_parts(result, "tool results")) if result else ""
            if block.get("is_error") and isinstance(text, str):
                text = f"[tool error] {text}"
            tool_msgs.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
        else:
            blocks.append(block)
    out = tool_msgs  # tool answers must directly follow the assistant's tool calls
    if blocks:
        out.append({"role": "user", "content": _o_collapse(_o_text_parts(blocks, "user turns"))})
    return out


def _o_assistant(content: Any) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[JSON] = []
    for block in content or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_text(block, "text"))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # signed reasoning only Anthropic can read back
        else:
            raise unsupported(f"{kind!r} content blocks in assistant turns", _TO_O)
    msg: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        msg["tool_calls"] = calls
    return msg


def _o_tools(tools: Any) -> list[JSON]:
    out: list[JSON] = []
    for tool in tools or ():
        kind = tool.get("type")
        if kind not in (None, "custom") or "input_schema" not in tool:
            raise unsupported(f"server tools ({kind or tool.get('name')!r})", _TO_O)
        fn: JSON = {"name": tool.get("name"), "parameters": tool["input_schema"]}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _o_tool_choice(choice: Any) -> tuple[Any, bool | None]:
    if not isinstance(choice, dict):
        return None, None
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    raise unsupported(f"tool_choice {choice!r}", _TO_O)


def _o_response_format(body: JSON) -> JSON | None:
    """Anthropic ``output_format`` (beta) or ``output_config.format`` as OpenAI
    ``response_format``; other ``output_config`` settings have no counterpart: a 400."""
    fmt = body.get("output_format")
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, dict):
            raise BadRequest("output_config must be an object")
        for key, value in config.items():
            if key != "format" and value is not None:
                raise unsupported(f"output_config.{key}", _TO_O)
        if config.get("format") is not None:
            if fmt is not None and fmt != config["format"]:
                raise BadRequest("output_format and output_config.format disagree; send one")
            fmt = config["format"]
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        kind = fmt.get("type") if isinstance(fmt, dict) else fmt
        raise unsupported(f"output format {kind!r}", _TO_O)
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise BadRequest("a json_schema output format needs an object 'schema'")
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def anthropic_to_openai_request(
    body: JSON, *, max_tokens_field: str = "max_completion_tokens"
) -> JSON:
    """An Anthropic messages body as an OpenAI chat-completions body.  Local
    OpenAI-compatible servers often only know ``max_tokens``: pass that as
    ``max_tokens_field`` for them."""
    messages: list[JSON] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _o_collapse(_o_text_parts(system, "system"))})
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise BadRequest("messages must be a non-empty array")
    for m in raw_messages:
        role = m.get("role") if isinstance(m, dict) else None
        if role == "user":
            messages.extend(_o_user(m.get("content")))
        elif role == "assistant":
            messages.append(_o_assistant(m.get("content")))
        else:
            raise BadRequest(f"unknown message role {role!r}")
    out: JSON = {"model": body.get("model"), "messages": messages}
    if body.get("max_tokens") is not None:
        out[max_tokens_field] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("stream"):
        out["stream"] = True
    if body.get("tools"):
        out["tools"] = _o_tools(body["tools"])
        choice, parallel = _o_tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if parallel is not None:
            out["parallel_tool_calls"] = parallel
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    response_format = _o_response_format(body)
    if response_format is not None:
        out["response_format"] = response_format
    return out
