"""Token estimates for calls whose upstream never reported usage (a stream cut before its
final usage event, or left by the client).

These are deliberately rough, cheap, *lower-bound-leaning* estimates, booked with
``ChatResponse.usage_estimated = True``; they are never used when the upstream reported
counts.

Prompt (:func:`estimate_prompt_tokens`)
    ``ceil(chars / 4)`` over the text of the request: message text (string content and
    ``text`` parts), tool calls and tool results, the Anthropic ``system`` prompt, and the
    tool definitions as JSON; plus the chat framing OpenAI's cookbook documents for its
    models ("How to count tokens with tiktoken": 3 tokens per message and 3 to prime the
    answer).  Bodies of the other OpenAI operations count the same way: the Responses
    API's ``instructions`` and ``input`` (a string, or items each framed as a message),
    legacy completions' ``prompt`` (strings, or token-id lists counted one token per id).
    Four characters per token is OpenAI's rule of thumb for English text
    ("What are tokens and how to count them?").  Images, audio and documents count 0: the
    estimate errs low.

Output (:func:`estimate_output_tokens`)
    ``max(delta events, ceil(delta text bytes / 4))``: each content (or tool-call) delta
    event holds at least one token, and a long delta holds about one token per four
    characters.  The text size is not parsed out of every delta (the stream's hot path
    never parses text deltas): the stream handler adds up the count and raw bytes of the
    delta events as they pass, and the per-event framing (everything but the text),
    measured on the last delta, is taken off that total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from thrifty.types import ChatResponse, StreamEvent, Usage

__all__ = [
    "CHARS_PER_TOKEN",
    "DeltaTally",
    "estimate_output_tokens",
    "estimate_prompt_tokens",
]

CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3  # <|start|>{role}...<|end|>
_PRIMING = 3  # <|start|>assistant<|message|>


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def _json_chars(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:
        return 0


def _content_chars(content: Any) -> int:
    """Characters of a message ``content`` in either dialect (a string, or a list of
    parts/blocks)."""
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if isinstance(text, str):
            total += len(text)
            continue
        kind = part.get("type")
        if kind == "tool_use":  # Anthropic assistant tool call
            total += len(str(part.get("name") or "")) + _json_chars(part.get("input"))
        elif kind == "tool_result":  # Anthropic tool result
            total += _content_chars(part.get("content"))
        elif kind in ("thinking", "redacted_thinking"):
            thinking = part.get("thinking")
            total += len(thinking) if isinstance(thinking, str) else 0
        # image, document, audio, file: not counted (the estimate errs low)
    return total


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of a chat request body (OpenAI chat completions or
    Anthropic messages); see the module docstring for the rule."""
    chars = 0
    messages = body.get("messages")
    count = 0
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            count += 1
            chars += _content_chars(message.get("content"))
            calls = message.get("tool_calls")  # OpenAI assistant tool calls
            if isinstance(calls, list):
                for call in calls:
                    function = call.get("function") if isinstance(call, Mapping) else None
                    if isinstance(function, Mapping):
                        chars += len(str(function.get("name") or ""))
                        arguments = function.get("arguments")
                        chars += len(arguments) if isinstance(arguments, str) else 0
    system = body.get("system")  # Anthropic
    if system is not None:
        count += 1
        chars += _content_chars(system)
    instructions = body.get("instructions")  # Responses API
    if isinstance(instructions, str):
        count += 1
        chars += len(instructions)
    items, item_chars, ids = _input_items(body.get("input", body.get("prompt")))
    count += items
    chars += item_chars
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        chars += _json_chars(tools)
    return _tokens(chars) + ids + _PER_MESSAGE * count + _PRIMING


def _input_items(value: Any) -> tuple[int, int, int]:
    """(items, characters, token ids) of a Responses API ``input`` or a completions
    ``prompt``."""
    if isinstance(value, str):
        return 1, len(value), 0
    if not isinstance(value, list):
        return 0, 0, 0
    if value and all(isinstance(t, int) for t in value):
        return 1, 0, len(value)  # one prompt as token ids
    items = chars = ids = 0
    for item in value:
        items += 1
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, list):
            ids += len(item)
        elif isinstance(item, Mapping):
            chars += _content_chars(item.get("content"))
            for key in ("name", "arguments", "output"):  # function_call(_output) items
                text = item.get(key)
                chars += len(text) if isinstance(text, str) else 0
    return items, chars, ids


def _delta_text(data: Mapping[str, Any]) -> str:
    """The generated text one delta event carries (OpenAI chunk, Responses API
    ``*.delta`` event, legacy completion chunk or Anthropic ``content_block_delta``)."""
    delta = data.get("delta")
    kind = data.get("type")
    if isinstance(delta, str) and isinstance(kind, str) and kind.endswith(".delta"):
        return delta
    if isinstance(delta, Mapping) and data.get("type") == "content_block_delta":
        for key in ("text", "partial_json", "thinking"):
            value = delta.get(key)
            if isinstance(value, str):
                return value
        return ""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return ""
    parts: list[str] = []
    for choice in choices:
        if not isinstance(choice, Mapping):
            continue
        text = choice.get("text")  # a legacy completion chunk
        if isinstance(text, str):
            parts.append(text)
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            continue
        for key in ("content", "reasoning_content", "refusal"):
            value = delta.get(key)
            if isinstance(value, str):
                parts.append(value)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                function = call.get("function") if isinstance(call, Mapping) else None
                if isinstance(function, Mapping):
                    for key in ("name", "arguments"):
                        value = function.get(key)
                        if isinstance(value, str):
                            parts.append(value)
    return "".join(parts)


def _text_and_framing(event: StreamEvent) -> tuple[str, int]:
    """The text one delta event carries, and the rest of its raw size (its framing)."""
    try:
        data = event.data
    except ValueError:
        data = None
    text = _delta_text(data) if data is not None else ""
    in_json = len(orjson.dumps(text)) - 2 if text else 0  # as escaped in the raw JSON
    return text, max(len(event.raw) - in_json, 0)


def estimate_output_tokens(
    events: int,
    raw_bytes: int,
    last: StreamEvent | None,
    previous: StreamEvent | None = None,
) -> int:
    """Estimated output tokens of ``events`` delta events whose raw SSE bytes add up to
    ``raw_bytes``, ``last`` (and ``previous``) being the last of them:
    ``max(content deltas, ceil(text / 4))``.

    The text size is ``raw_bytes`` minus every event's framing, the framing of the last
    delta that carries text (its raw size minus its text as escaped in the JSON) standing
    for all of them.  A ``last`` without text (OpenAI's closing chunk with
    ``finish_reason``, a signature) is not counted as a content delta, and its framing,
    shorter than a content delta's, is not used when ``previous`` is known.  Parses
    ``last`` and ``previous`` only.
    """
    if events <= 0 or last is None:
        return 0
    text, framing = _text_and_framing(last)
    if not text:
        events -= 1
        raw_bytes -= len(last.raw)
        if previous is not None and events > 0:
            framing = _text_and_framing(previous)[1]
    text_bytes = max(raw_bytes - events * framing, 0)
    return max(events, _tokens(text_bytes), 0)


class DeltaTally:
    """What :func:`estimate_output_tokens` needs of a stream's delta events, gathered as
    they pass without parsing them: their count, raw bytes, the last and the one before."""

    __slots__ = ("count", "last", "previous", "raw_bytes")

    def __init__(self) -> None:
        self.count = 0
        self.raw_bytes = 0
        self.last: StreamEvent | None = None
        self.previous: StreamEvent | None = None

    def add(self, event: StreamEvent) -> None:
        self.count += 1
        self.raw_bytes += len(event.raw)
        self.previous = self.last
        self.last = event

    def add_run(self, events: Sequence[StreamEvent], raw_bytes: int) -> None:
        """:meth:`add` for each of ``events`` (not empty), whose raw bytes the caller
        already counted (``raw_bytes``): a read's plain deltas, in one call."""
        self.count += len(events)
        self.raw_bytes += raw_bytes
        self.previous = events[-2] if len(events) > 1 else self.last
        self.last = events[-1]

    def output_tokens(self) -> int:
        """The estimated output tokens of the deltas seen so far."""
        return estimate_output_tokens(self.count, self.raw_bytes, self.last, self.previous)

    def book(self, response: ChatResponse, prompt: Mapping[str, Any]) -> None:
        """Book on ``response`` the estimated usage of a stream that ended before its
        usage: the prompt from the request body, the output from the deltas seen."""
        response.usage = Usage(
            input_tokens=estimate_prompt_tokens(prompt), output_tokens=self.output_tokens()
        )
        response.usage_reported = True
        response.usage_estimated = True
