"""Complete (non-streamed) response bodies: Anthropic message <-> OpenAI chat completion.

Usage is written from the normalised :class:`~thrifty.types.Usage` (read once from the
upstream's own body), so the app sees its dialect's convention: OpenAI ``prompt_tokens``
including cached tokens, Anthropic ``input_tokens`` excluding cache reads and writes.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from thrifty.dialects._common import (
    anthropic_usage,
    finish_reason,
    is_output_tool,
    openai_usage,
    stop_reason,
)
from thrifty.types import JSON, Usage

__all__ = ["anthropic_to_openai_response", "openai_to_anthropic_response"]


def _chat_id(anthropic_id: Any) -> str:
    return f"chatcmpl-{anthropic_id}" if anthropic_id else "chatcmpl-thrifty"


def _msg_id(openai_id: Any) -> str:
    text = str(openai_id or "thrifty")
    return text if text.startswith("msg_") else f"msg_{text.removeprefix('chatcmpl-')}"


def anthropic_to_openai_response(body: JSON, usage: Usage, *, model: str | None = None) -> JSON:
    """An Anthropic ``message`` as an OpenAI ``chat.completion``.  The structured-output
    stand-in tool's call (see :mod:`thrifty.dialects.request_to_anthropic`) becomes the
    message text: the JSON answer, as OpenAI sends it for ``response_format``."""
    texts: list[str] = []
    calls: list[JSON] = []
    structured: str | None = None
    for block in body.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use" and is_output_tool(block.get("name")):
            structured = orjson.dumps(block.get("input") or {}).decode()
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        # thinking / redacted_thinking / server tool blocks have no OpenAI counterpart.
    if structured is not None:
        texts = [structured]  # any preamble text would break the app's JSON parsing
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": _chat_id(body.get("id")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish(body.get("stop_reason"), bool(calls)),
                "logprobs": None,
            }
        ],
        "usage": openai_usage(usage),
    }


def _finish(stop: Any, calls: bool) -> str:
    finish = finish_reason(stop) or "stop"
    return "stop" if finish == "tool_calls" and not calls else finish


def _tool_input(arguments: Any) -> JSON:
    try:
        parsed = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def openai_to_anthropic_response(body: JSON, usage: Usage, *, model: str | None = None) -> JSON:
    """An OpenAI ``chat.completion`` (first choice) as an Anthropic ``message``."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[JSON] = []
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if not text and message.get("refusal"):
        text = message["refusal"]
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": fn.get("name"),
                "input": _tool_input(fn.get("arguments")),
            }
        )
    return {
        "id": _msg_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")) or "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }
