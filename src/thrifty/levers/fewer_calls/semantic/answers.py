"""Answers the semantic cache may store, and how two answers are compared.

Only a complete, plain text answer is stored: one choice that stopped by itself (OpenAI
``finish_reason == "stop"``, Anthropic ``stop_reason == "end_turn"``), text only.  Tool
calls, refusals, ``length`` truncations, errors and cut streams are never stored.  A
streamed answer is rebuilt from its events (:class:`StreamedText`) into the body a
non-streamed call would have returned.

Comparators decide whether a fresh answer agrees with a cached one (exploration):
``exact`` (same text), ``normalised`` (same words, ignoring case, spacing and punctuation)
or ``json`` (the answers parse as JSON and agree on ``fields``, or entirely when none are
given).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import orjson

from thrifty.types import JSON, Dialect, StreamEvent

__all__ = ["Comparator", "StreamedText", "answer_text", "comparator", "text_body"]

Comparator = Callable[[str, str], bool]
ComparatorName = Literal["exact", "normalised", "json"]
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def answer_text(body: JSON, dialect: Dialect) -> str | None:
    """The answer's text if ``body`` is a storable answer (see the module docstring)."""
    if dialect == "openai":
        choices = body.get("choices")
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        message = choice.get("message")
        if choice.get("finish_reason") != "stop" or not isinstance(message, dict):
            return None
        if message.get("tool_calls") or message.get("refusal") or message.get("audio"):
            return None
        content = message.get("content")
        return content if isinstance(content, str) and content else None
    if body.get("stop_reason") != "end_turn":
        return None
    blocks = body.get("content")
    if not isinstance(blocks, list) or not blocks:
        return None
    texts = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "text":
            return None
        if not isinstance(block.get("text"), str):
            return None
        texts.append(block["text"])
    text = "".join(texts)
    return text or None


def text_body(dialect: Dialect, model: str, text: str, stop: str) -> JSON:
    """A complete answer body holding ``text`` (usage is stored apart, not in the body)."""
    if dialect == "anthropic":
        return {
            "id": "msg_semantic_cache",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "stop_sequence": None,
        }
    return {
        "id": "chatcmpl-semantic-cache",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": stop,
                "logprobs": None,
            }
        ],
    }


class StreamedText:
    """Reads a stream's events as they pass and rebuilds its text answer; ``body()`` is
    ``None`` when the stream carried anything but one text answer."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._texts: list[str] = []
        self._stop: str | None = None
        self._model: str | None = None
        self._plain = True

    def feed(self, events: Iterable[StreamEvent]) -> None:
        for event in events:
            if not self._plain:
                return
            try:
                data = event.data
            except ValueError:
                self._plain = False
                return
            if data is not None:
                self._read(data)

    def _read(self, data: JSON) -> None:
        if isinstance(data.get("model"), str):
            self._model = data["model"]
        if self.dialect == "openai":
            self._read_openai(data)
        else:
            self._read_anthropic(data)

    def _read_openai(self, data: JSON) -> None:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return  # the usage-only chunk
        if len(choices) != 1 or not isinstance(choices[0], dict):
            self._plain = False
            return
        delta = choices[0].get("delta") or {}
        if not isinstance(delta, dict) or delta.get("tool_calls") or delta.get("refusal"):
            self._plain = False
            return
        if isinstance(delta.get("content"), str):
            self._texts.append(delta["content"])
        if choices[0].get("finish_reason") is not None:
            self._stop = str(choices[0]["finish_reason"])

    def _read_anthropic(self, data: JSON) -> None:
        kind = data.get("type")
        if kind == "message_start" and isinstance(data.get("message"), dict):
            model = data["message"].get("model")
            self._model = model if isinstance(model, str) else self._model
        elif kind == "content_block_start":
            block = data.get("content_block")
            if not isinstance(block, dict) or block.get("type") != "text":
                self._plain = False
            elif isinstance(block.get("text"), str):
                self._texts.append(block["text"])
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if not isinstance(delta, dict) or delta.get("type") != "text_delta":
                self._plain = False
            elif isinstance(delta.get("text"), str):
                self._texts.append(delta["text"])
        elif kind == "message_delta" and isinstance(data.get("delta"), dict):
            stop = data["delta"].get("stop_reason")
            self._stop = stop if isinstance(stop, str) else self._stop
        elif kind == "error":
            self._plain = False

    def body(self, fallback_model: str) -> JSON | None:
        if not self._plain or self._stop is None:
            return None
        built = text_body(
            self.dialect, self._model or fallback_model, "".join(self._texts), self._stop
        )
        return built if answer_text(built, self.dialect) is not None else None


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _json_agrees(fields: Sequence[str]) -> Comparator:
    def agree(cached: str, fresh: str) -> bool:
        try:
            one: Any = orjson.loads(cached)
            two: Any = orjson.loads(fresh)
        except orjson.JSONDecodeError:
            return False
        if not fields:
            return bool(one == two)
        if not isinstance(one, dict) or not isinstance(two, dict):
            return False
        return all(one.get(f) == two.get(f) for f in fields)

    return agree


def comparator(name: ComparatorName, fields: Sequence[str] = ()) -> Comparator:
    if name == "exact":
        return lambda cached, fresh: cached == fresh
    if name == "normalised":
        return lambda cached, fresh: _normalised(cached) == _normalised(fresh)
    return _json_agrees(fields)
