"""A stream on its way to the app, kept for whoever stores answers (the exact and semantic
caches, idempotency records).

:class:`Recorder` sits under :func:`thrifty.streams.observe`: it hands every batch on as it
arrives (the app gets its stream live) and keeps the events, up to a byte budget; when the
stream completes, :func:`body_of` adds the events up to the complete answer body the
stream carried (the body :func:`thrifty.streams.replay` turns back into the same stream).
A stream with an error event, an unknown delta or a malformed event adds up to nothing
(``None``), and is not stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from thrifty.dialects._common import anthropic_usage, openai_usage
from thrifty.types import JSON, Dialect, MalformedEvent, StreamEvent, Usage


class Recorder:
    """``upstream`` passed through batch by batch, its events kept in :attr:`events`
    while their raw bytes stay within ``budget`` (past it, :attr:`overflow` is set and
    nothing is kept).  Closing the recorder closes the upstream."""

    __slots__ = ("_it", "_upstream", "budget", "events", "overflow", "size")

    def __init__(self, upstream: AsyncIterator[Sequence[StreamEvent]], budget: int) -> None:
        self._upstream = upstream
        self._it = upstream.__aiter__()
        self.events: list[StreamEvent] = []
        self.size = 0
        self.budget = budget
        self.overflow = False

    def __aiter__(self) -> Recorder:
        return self

    async def __anext__(self) -> Sequence[StreamEvent]:
        batch = await self._it.__anext__()
        if not self.overflow:
            for event in batch:
                self.size += len(event.raw)
            if self.size > self.budget:
                self.overflow = True
                self.events = []
            else:
                self.events.extend(batch)
        return batch

    async def aclose(self) -> None:
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()


def body_of(events: Sequence[StreamEvent], dialect: Dialect, usage: Usage) -> JSON | None:
    """The complete answer body ``events`` carried (``None``: not a plain, whole one)."""
    try:
        if dialect == "anthropic":
            return _anthropic_body(events, usage)
        return _openai_body(events, usage)
    except (MalformedEvent, orjson.JSONDecodeError, TypeError, KeyError, AttributeError):
        return None


# -- OpenAI ------------------------------------------------------------------------------


class _Choice:
    __slots__ = ("content", "finish", "refusal", "role", "tools")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, JSON] = {}
        self.finish: str | None = None

    def add(self, delta: JSON) -> None:
        if isinstance(delta.get("role"), str):
            self.role = delta["role"]
        if isinstance(delta.get("content"), str):
            self.content.append(delta["content"])
        if isinstance(delta.get("refusal"), str):
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or ():
            slot = self.tools.setdefault(
                call.get("index", len(self.tools)),
                {"id": None, "type": "function", "name": "", "arguments": []},
            )
            if call.get("id"):
                slot["id"] = call["id"]
            if call.get("type"):
                slot["type"] = call["type"]
            function = call.get("function") or {}
            if function.get("name"):
                slot["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                slot["arguments"].append(function["arguments"])

    def message(self) -> JSON:
        message: JSON = {"role": self.role, "content": "".join(self.content) or None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tools:
            message["tool_calls"] = [
                {
                    "id": slot["id"],
                    "type": slot["type"],
                    "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                }
                for _, slot in sorted(self.tools.items())
            ]
        return message


def _openai_body(events: Sequence[StreamEvent], usage: Usage) -> JSON | None:
    head: JSON = {}
    choices: dict[int, _Choice] = {}
    for event in events:
        data = event.data
        if data is None:  # [DONE]
            continue
        if data.get("error") is not None:
            return None
        if not head:
            head = {
                k: data[k]
                for k in ("id", "created", "model", "system_fingerprint", "service_tier")
                if data.get(k) is not None
            }
        for choice in data.get("choices") or ():
            if choice.get("logprobs"):
                return None  # a replay could not carry them
            acc = choices.setdefault(choice.get("index", 0), _Choice())
            acc.add(choice.get("delta") or {})
            if choice.get("finish_reason"):
                acc.finish = choice["finish_reason"]
    if not choices:
        return None
    return {
        "id": head.get("id", "chatcmpl-thrifty"),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        **{k: head[k] for k in ("system_fingerprint", "service_tier") if k in head},
        "choices": [
            {
                "index": index,
                "message": acc.message(),
                "finish_reason": acc.finish,
                "logprobs": None,
            }
            for index, acc in sorted(choices.items())
        ],
        "usage": openai_usage(usage),
    }


# -- Anthropic ---------------------------------------------------------------------------

_TEXT_DELTAS = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}


def _anthropic_body(events: Sequence[StreamEvent], usage: Usage) -> JSON | None:
    message: JSON | None = None
    blocks: dict[int, JSON] = {}
    pieces: dict[tuple[int, str], list[str]] = {}
    ending: JSON = {}
    for event in events:
        data = event.data
        if data is None:
            continue
        kind = data.get("type")
        if kind == "message_start":
            message = data["message"]
        elif kind == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif kind == "content_block_delta":
            index, delta = data["index"], data["delta"]
            if index not in blocks or not _add_delta(blocks[index], index, delta, pieces):
                return None
        elif kind == "message_delta":
            ending = data.get("delta") or {}
        elif kind not in ("content_block_stop", "message_stop", "ping"):
            return None  # an error event, or one this reader does not know
    if message is None:
        return None
    for (index, field), parts in pieces.items():
        text = "".join(parts)
        blocks[index][field] = orjson.loads(text or "{}") if field == "input" else text
    return {
        "id": message.get("id", "msg_thrifty"),
        "type": "message",
        "role": "assistant",
        "model": message.get("model", ""),
        "content": [blocks[i] for i in sorted(blocks)],
        "stop_reason": ending.get("stop_reason"),
        "stop_sequence": ending.get("stop_sequence"),
        "usage": anthropic_usage(usage),
    }


def _add_delta(
    block: JSON, index: int, delta: JSON, pieces: dict[tuple[int, str], list[str]]
) -> bool:
    kind: Any = delta.get("type")
    if kind in _TEXT_DELTAS:
        field = _TEXT_DELTAS[kind]
        parts = pieces.setdefault((index, field), [str(block.get(field) or "")])
        parts.append(delta[field])
    elif kind == "input_json_delta":
        pieces.setdefault((index, "input"), []).append(delta["partial_json"])
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta["citation"])
    else:
        return False
    return True
