"""``replay``: a stored complete answer served again, as the app asked for it.

The stored answer is a complete JSON body in its own dialect, with the normalised usage of
the call that produced it.  ``replay`` translates the body to the app's dialect if needed
(:mod:`thrifty.dialects.responses`) and, for a streamed request, writes it as the stream the
app's SDK expects:

* OpenAI: chat-completion chunks (role, content, refusal, tool calls, finish reason), then
  a usage-only chunk when the request asked ``stream_options.include_usage``, then
  ``data: [DONE]``;
* Anthropic: ``message_start``, for each content block ``content_block_start`` /
  ``content_block_delta`` (text, citations, tool input JSON, thinking, signature) /
  ``content_block_stop``, ``message_delta`` (stop reason and the whole usage),
  ``message_stop``.

The stream is one batch (everything is known at once); ``stream_complete`` is set while it
is produced, so observers book it before it is handed on.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from thrifty.dialects._common import (
    anthropic_sse,
    anthropic_usage,
    openai_done,
    openai_sse,
    openai_usage,
)
from thrifty.dialects.responses import anthropic_to_openai_response, openai_to_anthropic_response
from thrifty.providers.openai_compat import wants_usage_chunk
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

__all__ = ["anthropic_events", "openai_events", "replay"]

# Content blocks whose input streams as input_json_delta after an empty ``input``.
_TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def replay(
    request: ChatRequest,
    body: JSON,
    *,
    dialect: Dialect,
    usage: Usage,
    model: str | None = None,
    provider: str = "replay",
) -> ChatResponse:
    """``body`` (a complete answer in ``dialect``, whose call used ``usage``) as the answer
    to ``request``: translated to ``request.dialect`` when they differ, and streamed when
    the request streams.  ``served`` is ``None``: no provider is called.  The returned body
    is ``body`` itself when no translation is needed (copy it first if it is shared)."""
    if dialect != request.dialect:
        translate = (
            anthropic_to_openai_response
            if request.dialect == "openai"
            else openai_to_anthropic_response
        )
        body = translate(body, usage, model=model)
    named = body.get("model")
    answer_model = named if isinstance(named, str) and named else (model or request.model)
    response = ChatResponse(
        dialect=request.dialect,
        model=answer_model,
        provider=provider,
        usage=usage,
        usage_reported=True,
    )
    if not request.stream:
        response.body = body
        return response
    if request.dialect == "openai":
        events = openai_events(body, usage, include_usage=wants_usage_chunk(request.body))
    else:
        events = anthropic_events(body, usage)
    response.stream = _one_batch(response, events)
    return response


async def _one_batch(
    response: ChatResponse, events: list[StreamEvent]
) -> AsyncIterator[Sequence[StreamEvent]]:
    response.stream_complete = True
    yield events


# -- OpenAI ------------------------------------------------------------------------------


def openai_events(body: JSON, usage: Usage, *, include_usage: bool) -> list[StreamEvent]:
    """A ``chat.completion`` body as the chunks of its stream."""
    head: JSON = {
        "id": body.get("id") or "chatcmpl-thrifty",
        "object": "chat.completion.chunk",
        "created": body.get("created") or int(time.time()),
        "model": body.get("model") or "",
    }
    for key in ("system_fingerprint", "service_tier"):
        if body.get(key) is not None:
            head[key] = body[key]

    def chunk(index: int, delta: JSON, finish: str | None = None) -> StreamEvent:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return openai_sse({**head, "choices": [choice]})

    out: list[StreamEvent] = []
    for position, choice in enumerate(body.get("choices") or ()):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        out.append(chunk(index, {"role": message.get("role") or "assistant", "content": ""}))
        text = _openai_text(message.get("content"))
        if text:
            out.append(chunk(index, {"content": text}))
        if message.get("refusal"):
            out.append(chunk(index, {"refusal": message["refusal"]}))
        for number, call in enumerate(message.get("tool_calls") or ()):
            fn = call.get("function") or {}
            start = {
                "index": number,
                "id": call.get("id"),
                "type": call.get("type") or "function",
                "function": {"name": fn.get("name"), "arguments": ""},
            }
            out.append(chunk(index, {"tool_calls": [start]}))
            arguments = fn.get("arguments")
            if arguments:
                more = {"index": number, "function": {"arguments": arguments}}
                out.append(chunk(index, {"tool_calls": [more]}))
        out.append(chunk(index, {}, choice.get("finish_reason") or "stop"))
    if include_usage:
        out.append(openai_sse({**head, "choices": [], "usage": openai_usage(usage)}))
    out.append(openai_done())
    return out


def _openai_text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


# -- Anthropic ---------------------------------------------------------------------------


def anthropic_events(body: JSON, usage: Usage) -> list[StreamEvent]:
    """An Anthropic ``message`` body as the events of its stream."""
    start_usage = anthropic_usage(usage)
    start_usage["output_tokens"] = 0  # the count so far; message_delta brings the total
    message: JSON = {
        "id": body.get("id") or "msg_thrifty",
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or "",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    out = [anthropic_sse({"type": "message_start", "message": message})]
    for index, block in enumerate(body.get("content") or ()):
        _anthropic_block(index, block, out)
    delta = {
        "stop_reason": body.get("stop_reason") or "end_turn",
        "stop_sequence": body.get("stop_sequence"),
    }
    out.append(
        anthropic_sse({"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)})
    )
    out.append(anthropic_sse({"type": "message_stop"}))
    return out


def _anthropic_block(index: int, block: JSON, out: list[StreamEvent]) -> None:
    kind = block.get("type")
    deltas: list[JSON] = []
    if kind == "text":
        start: JSON = {"type": "text", "text": ""}
        deltas.extend(
            {"type": "citations_delta", "citation": c} for c in block.get("citations") or ()
        )
        if block.get("text"):
            deltas.append({"type": "text_delta", "text": block["text"]})
    elif kind in _TOOL_INPUT_BLOCKS:
        start = {**block, "input": {}}
        if block.get("input"):
            partial = orjson.dumps(block["input"]).decode()
            deltas.append({"type": "input_json_delta", "partial_json": partial})
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        if block.get("thinking"):
            deltas.append({"type": "thinking_delta", "thinking": block["thinking"]})
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:  # redacted thinking, server tool results...: whole in their start event
        start = block
    out.append(
        anthropic_sse({"type": "content_block_start", "index": index, "content_block": start})
    )
    for delta in deltas:
        out.append(anthropic_sse({"type": "content_block_delta", "index": index, "delta": delta}))
    out.append(anthropic_sse({"type": "content_block_stop", "index": index}))
