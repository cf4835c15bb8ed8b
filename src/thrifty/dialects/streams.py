"""Streaming translation: Anthropic message events <-> OpenAI chat-completion chunks.

A translator is fed every upstream event payload in order (``None`` is OpenAI's
``[DONE]``) together with the usage known so far, and returns the events the app should
receive in its own dialect.  Usage is taken from the normalised
:class:`~thrifty.types.Usage` the provider keeps, never recounted here.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from thrifty.dialects._common import (
    anthropic_sse,
    anthropic_usage,
    finish_reason,
    is_output_tool,
    openai_done,
    openai_sse,
    openai_usage,
    stop_reason,
)
from thrifty.types import JSON, StreamEvent, Usage

__all__ = ["AnthropicToOpenAIStream", "OpenAIToAnthropicStream"]


class AnthropicToOpenAIStream:
    """Anthropic upstream events -> OpenAI chunks.  ``include_usage`` is whether the app
    asked for the usage-only final chunk (``stream_options.include_usage``).  The
    structured-output stand-in tool's input streams as message text (see
    :mod:`thrifty.dialects.request_to_anthropic`)."""

    __slots__ = ("_created", "_id", "_include_usage", "_model", "_output", "_tools")

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-thrifty"
        self._created = int(time.time())
        self._tools: dict[Any, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._output: set[Any] = set()  # block indexes of the structured-output tool

    def _chunk(self, delta: JSON, finish: str | None = None) -> StreamEvent:
        chunk: JSON = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._include_usage:
            chunk["usage"] = None  # as OpenAI sends on every chunk once usage is requested
        return openai_sse(chunk)

    def _tool_delta(self, block_index: Any, call: JSON) -> StreamEvent | None:
        index = self._tools.get(block_index)
        if index is None:
            return None
        call["index"] = index
        return self._chunk({"tool_calls": [call]})

    def feed(self, data: JSON | None, usage: Usage) -> list[StreamEvent]:
        if data is None:
            return []
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if dtype == "input_json_delta":
                args = delta.get("partial_json", "")
                if data.get("index") in self._output:
                    return [self._chunk({"content": args})] if args else []
                ev = self._tool_delta(data.get("index"), {"function": {"arguments": args}})
                return [ev] if ev is not None and args else []
            return []  # thinking / signature / citation deltas have no OpenAI counterpart
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            btype = block.get("type")
            if btype == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            if btype == "tool_use" and is_output_tool(block.get("name")):
                self._output.add(data.get("index"))
                start = block.get("input")
                return [self._chunk({"content": orjson.dumps(start).decode()})] if start else []
            if btype == "tool_use":
                self._tools[data.get("index")] = len(self._tools)
                start = block.get("input")
                call = {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(start).decode() if start else "",
                    },
                }
                ev = self._tool_delta(data.get("index"), call)
                return [ev] if ev is not None else []
            return []
        if kind == "message_start":
            message = data.get("message") or {}
            self._id = f"chatcmpl-{message.get('id') or 'thrifty'}"
            self._model = message.get("model") or self._model
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "message_delta":
            reason = finish_reason((data.get("delta") or {}).get("stop_reason"))
            if reason == "tool_calls" and not self._tools:
                reason = "stop"  # only the structured-output tool was called
            return [self._chunk({}, reason)] if reason else []
        if kind == "message_stop":
            out: list[StreamEvent] = []
            if self._include_usage:
                out.append(
                    openai_sse(
                        {
                            "id": self._id,
                            "object": "chat.completion.chunk",
                            "created": self._created,
                            "model": self._model,
                            "choices": [],
                            "usage": openai_usage(usage),
                        }
                    )
                )
            out.append(openai_done())
            return out
        return []  # ping, content_block_stop


class OpenAIToAnthropicStream:
    """OpenAI upstream chunks -> Anthropic events.  The final ``message_delta`` carries the
    whole usage (input and cache fields too), since OpenAI reports it only at the end."""

    __slots__ = (
        "_finish",
        "_id",
        "_input_estimate",
        "_model",
        "_next",
        "_open",
        "_started",
        "_tools",
    )

    def __init__(self, *, model: str, input_estimate: int = 0) -> None:
        """``input_estimate``: the prompt's tokens as estimated before the call, put in
        ``message_start`` (OpenAI reports usage only at the end; clients that read the
        input count at the start would otherwise get 0).  The final ``message_delta``
        carries the exact counts."""
        self._input_estimate = input_estimate
        self._model = model
        self._id = "msg_thrifty"
        self._started = False
        self._open: int | None = None  # index of the open content block
        self._next = 0
        self._tools: dict[Any, int] = {}  # OpenAI tool_calls index -> block index
        self._finish: str | None = None

    def _start(self, chunk: JSON, usage: Usage, out: list[StreamEvent]) -> None:
        self._started = True
        chunk_id = str(chunk.get("id") or "thrifty")
        self._id = chunk_id if chunk_id.startswith("msg_") else f"msg_{chunk_id}"
        self._model = chunk.get("model") or self._model
        start_usage = anthropic_usage(usage)
        start_usage["output_tokens"] = 0
        if not usage.input_tokens and self._input_estimate:
            start_usage["input_tokens"] = self._input_estimate
        message: JSON = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        out.append(anthropic_sse({"type": "message_start", "message": message}))

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(anthropic_sse({"type": "content_block_stop", "index": self._open}))
            self._open = None

    def _open_block(self, block: JSON, out: list[StreamEvent]) -> int:
        self._close(out)
        index = self._next
        self._next += 1
        self._open = index
        out.append(
            anthropic_sse({"type": "content_block_start", "index": index, "content_block": block})
        )
        return index

    def _delta(self, index: int, delta: JSON, out: list[StreamEvent]) -> None:
        out.append(anthropic_sse({"type": "content_block_delta", "index": index, "delta": delta}))

    def feed(self, data: JSON | None, usage: Usage) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if data is None:  # [DONE]
            if not self._started:
                self._start({}, usage, out)
            self._close(out)
            out.append(
                anthropic_sse(
                    {
                        "type": "message_delta",
                        "delta": {
                            "stop_reason": stop_reason(self._finish) or "end_turn",
                            "stop_sequence": None,
                        },
                        "usage": anthropic_usage(usage),
                    }
                )
            )
            out.append(anthropic_sse({"type": "message_stop"}))
            return out
        if not self._started:
            self._start(data, usage, out)
        for choice in data.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                if self._open is None or self._open in self._tools.values():
                    self._open_block({"type": "text", "text": ""}, out)
                assert self._open is not None
                self._delta(self._open, {"type": "text_delta", "text": text}, out)
            for call in delta.get("tool_calls") or ():
                key = call.get("index", 0)
                fn = call.get("function") or {}
                index = self._tools.get(key)
                if index is None:
                    block = {"type": "tool_use", "id": call.get("id"), "name": fn.get("name")}
                    block["input"] = {}
                    index = self._tools[key] = self._open_block(block, out)
                args = fn.get("arguments")
                if args:
                    self._delta(index, {"type": "input_json_delta", "partial_json": args}, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out
