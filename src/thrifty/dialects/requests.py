"""Request bodies: OpenAI chat completions <-> Anthropic messages.

Text, system prompts, sampling parameters, stop sequences, tools, tool choice, tool calls and
tool results translate.  Anything that cannot be carried over faithfully (images, audio,
files, several choices, response formats, server-side tools) is refused with
:class:`~thrifty.errors.BadRequest` naming the feature, rather than silently dropped.
Parameters with no counterpart that only tune sampling (penalties, seed, logit bias, top_k)
are dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.dialects._common import unsupported
from thrifty.errors import BadRequest
from thrifty.types import JSON

__all__ = ["DEFAULT_MAX_TOKENS", "anthropic_to_openai_request", "openai_to_anthropic_request"]

DEFAULT_MAX_TOKENS = 4096
_TO_A = "an OpenAI request for an Anthropic model"
_TO_O = "an Anthropic request for an OpenAI-compatible model"
_OPENAI_REFUSED = ("n", "response_format", "audio", "modalities", "logprobs", "top_logprobs")


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


def openai_to_anthropic_request(body: JSON) -> JSON:
    """An OpenAI chat-completions body as an Anthropic messages body (``model`` is left
    for the provider to write)."""
    for key in _OPENAI_REFUSED:
        value = body.get(key)
        if value is None or value is False or (key == "n" and value == 1):
            continue
        if key == "response_format" and isinstance(value, dict) and value.get("type") == "text":
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
    return out
