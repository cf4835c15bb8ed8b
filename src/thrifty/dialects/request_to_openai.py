"""Request bodies: Anthropic messages -> OpenAI chat completions.

Text, system prompts, sampling parameters, stop sequences, tools, tool choice, tool calls and
tool results translate.  Anything that cannot be carried over faithfully (images, documents,
server-side tools, extended thinking, MCP servers, a container, context management) is
refused with :class:`~thrifty.errors.BadRequest` naming the feature, rather than silently
dropped; ``top_k`` and ``service_tier`` have no counterpart and are dropped.  Anthropic
``output_format`` / ``output_config.format`` becomes OpenAI's native ``response_format``
json_schema.  The other direction is :mod:`thrifty.dialects.request_to_anthropic`.
"""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.dialects._common import part_text, stop_list, unsupported
from thrifty.errors import BadRequest
from thrifty.types import JSON

__all__ = ["anthropic_to_openai_request"]

_TO_O = "an Anthropic request for an OpenAI-compatible model"
# Fields that change what the model does and have no OpenAI counterpart (when not empty).
_ANTHROPIC_UNTRANSLATABLE = {
    "mcp_servers": "MCP servers (mcp_servers)",
    "container": "a code-execution container",
    "context_management": "context management",
}


def _o_text_parts(content: Any, where: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[JSON] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": part_text(block, "text")})
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
            texts.append(part_text(block, "text"))
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
    if choice is None:
        return None, None
    if not isinstance(choice, dict):
        raise BadRequest('\'tool_choice\' must be an object such as {"type": "auto"}')
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
    for key, feature in _ANTHROPIC_UNTRANSLATABLE.items():
        if body.get(key):
            raise unsupported(feature, _TO_O)
    thinking = body.get("thinking")
    if thinking is not None and not (
        isinstance(thinking, dict) and thinking.get("type") == "disabled"
    ):
        raise unsupported("extended thinking", _TO_O)
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
        out["stop"] = stop_list(body["stop_sequences"], "stop_sequences", one_string_allowed=False)
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
