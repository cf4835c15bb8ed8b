"""The canonical form of a request that :meth:`RequestView.cache_key` hashes (see
docs/architecture.md, "Request view")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import orjson

from thrifty.dialects.view.turns import (
    _ANTHROPIC_MESSAGE_KEYS,
    _ANTHROPIC_TOOL_KEYS,
    _OPENAI_FN_KEYS,
    _OPENAI_MESSAGE_KEYS,
    _TEXT_BLOCK_KEYS,
    _parse_arguments,
)
from thrifty.types import JSON, Dialect

CACHE_KEY_VERSION = 1

# Top-level body fields that never change what the model answers: left out of the key.
NOT_IN_CACHE_KEY = frozenset(
    {
        "stream",
        "stream_options",
        "metadata",
        "user",
        "safety_identifier",  # OpenAI's successor of ``user``
        "prompt_cache_key",  # OpenAI prompt-cache routing hint
        "prompt_cache_retention",
        "store",  # OpenAI: keep the completion for the dashboard
        "cache_control",  # Anthropic automatic prompt caching
    }
)

# Fields the key covers in their own canonical form (not as plain parameters).
_STRUCTURAL = frozenset({"model", "messages", "system", "tools"})


# -- the cache key's canonical form ----------------------------------------------------------


def _no_cache_control(value: Any) -> Any:
    if isinstance(value, dict) and "cache_control" in value:
        return {k: v for k, v in value.items() if k != "cache_control"}
    return value


def _number(value: Any) -> Any:
    """JSON numbers: ``1.0`` and ``1`` are the same number."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Ids:
    """Tool-call ids by order of first appearance: ids are random per run, only the pairing
    of a call with its result means anything."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, id: Any) -> Any:
        if not isinstance(id, str):
            return id
        return self.seen.setdefault(id, len(self.seen))


# The canonical forms below are built straight from the wire body (no Turn or Part objects,
# so the key stays cheap).  They mirror the reading functions above: a plain text part is
# its string, other parts are tagged lists, and content that is exactly one plain text part
# is that string, so ``"hi"`` and ``[{"type": "text", "text": "hi"}]`` are the same.


def _canon_block(block: Any, ids: _Ids, anthropic: bool) -> Any:
    if not isinstance(block, dict):
        return ["other", block]
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if isinstance(text, str):
            if block.keys() <= _TEXT_BLOCK_KEYS:
                return text
            return ["text", text, {k: v for k, v in block.items() if k not in _TEXT_BLOCK_KEYS}]
    elif anthropic and kind == "tool_use":
        return ["tool_call", ids(block.get("id")), block.get("name"), block.get("input")]
    elif anthropic and kind == "tool_result":
        content = _canon_content(block.get("content"), ids, anthropic)
        return [
            "tool_result",
            ids(block.get("tool_use_id")),
            content,
            block.get("is_error") is True,
        ]
    return ["other", _no_cache_control(block)]


def _collapse(parts: list[Any]) -> Any:
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return parts


def _canon_content(content: Any, ids: _Ids, anthropic: bool) -> Any:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _collapse([_canon_block(b, ids, anthropic) for b in content])
    if content is None:
        return []
    return [["other", content]]


def _canon_openai_call(call: Any, ids: _Ids) -> Any:
    if isinstance(call, dict) and call.get("type", "function") == "function":
        fn = call.get("function")
        if isinstance(fn, dict):
            arguments = _parse_arguments(fn.get("arguments"))
            return ["tool_call", ids(call.get("id")), fn.get("name"), arguments]
    return ["other", call]


def _canon_message(message: Any, ids: _Ids, anthropic: bool) -> Any:
    # The common case, {"role": ..., "content": "..."}, is its own canonical form.
    if (
        type(message) is dict
        and len(message) == 2
        and type(message.get("content")) is str
        and type(message.get("role")) is str
        and message["role"] != "tool"
    ):
        return message
    if not isinstance(message, dict):
        return ["other", message]
    role = message.get("role")
    out: JSON = {"role": role if isinstance(role, str) else ""}
    if anthropic:
        out["content"] = _canon_content(message.get("content"), ids, anthropic)
        if not message.keys() <= _ANTHROPIC_MESSAGE_KEYS:
            out["extra"] = _no_cache_control(
                {k: v for k, v in message.items() if k not in _ANTHROPIC_MESSAGE_KEYS}
            )
        return out
    content = _canon_content(message.get("content"), ids, anthropic)
    if role == "tool":
        out["content"] = [["tool_result", ids(message.get("tool_call_id")), content, False]]
    else:
        calls = message.get("tool_calls")
        if calls is not None:
            parts = [content] if isinstance(content, str) else list(content)
            if isinstance(calls, list):
                parts.extend(_canon_openai_call(call, ids) for call in calls)
            else:
                parts.append(["other", calls])
            content = _collapse(parts)
        out["content"] = content
    if not message.keys() <= _OPENAI_MESSAGE_KEYS:
        out["extra"] = {k: v for k, v in message.items() if k not in _OPENAI_MESSAGE_KEYS}
    return out


def _canon_tool(tool: Any, dialect: Dialect) -> Any:
    if not isinstance(tool, dict):
        return ["other", tool]
    if dialect == "openai":
        fn = tool.get("function")
        if tool.get("type") == "function" and isinstance(fn, dict):
            extra = {k: v for k, v in fn.items() if k not in _OPENAI_FN_KEYS}
            extra.update((k, v) for k, v in tool.items() if k not in ("type", "function"))
            return ["function", fn.get("name"), fn.get("description"), fn.get("parameters"), extra]
    elif tool.get("type") in (None, "custom") and "input_schema" in tool:
        extra = {k: v for k, v in tool.items() if k not in _ANTHROPIC_TOOL_KEYS}
        name, description = tool.get("name"), tool.get("description")
        return ["function", name, description, tool.get("input_schema"), extra]
    return ["other", _no_cache_control(tool)]


def _stop_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _canon_params(body: Mapping[str, Any], dialect: Dialect) -> JSON:
    params: JSON = {}
    for key, value in body.items():
        if value is None or key in _STRUCTURAL or key in NOT_IN_CACHE_KEY:
            continue
        params[key] = _number(value)
    if dialect == "openai":
        if "max_tokens" in params and "max_completion_tokens" not in params:
            params["max_completion_tokens"] = params.pop("max_tokens")
        if "stop" in params:
            params["stop"] = _stop_list(params["stop"])
        if params.get("n") == 1:
            del params["n"]
        if params.get("response_format") == {"type": "text"}:
            del params["response_format"]
        if params.get("parallel_tool_calls") is True:
            del params["parallel_tool_calls"]
    else:
        if "stop_sequences" in params:
            params["stop"] = params.pop("stop_sequences")
        if "max_tokens" in params:
            params["max_completion_tokens"] = params.pop("max_tokens")
    if params.get("stop") in ([], ""):
        del params["stop"]
    return params


def _digest(canonical: Any) -> str:
    try:
        data = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        # Values JSON cannot hold (library callers can pass any object): keyed by str().
        try:
            text = json.dumps(canonical, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(canonical)
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
