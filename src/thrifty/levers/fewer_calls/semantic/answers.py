"""Answers the semantic cache may store, and how two answers are compared.

Only a complete, plain text answer is stored: one choice that stopped by itself (OpenAI
``finish_reason == "stop"``, Anthropic ``stop_reason == "end_turn"``), text only.  Tool
calls, refusals, ``length`` truncations, errors and cut streams are never stored.  A
streamed answer is rebuilt from its events (``thrifty.streams.record.body_of``, shared with the
exact cache) into the body a non-streamed call would have returned.

Comparators decide whether a fresh answer agrees with a cached one (exploration):
``exact`` (same text), ``normalised`` (same words, ignoring case, spacing and punctuation)
or ``json`` (the answers parse as JSON and agree on ``fields``, or entirely when none are
given).  The fourth, ``judge`` (a model asked whether the two agree), is a paid call:
:mod:`.judge`.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Literal

import orjson

from thrifty.types import JSON, Dialect

__all__ = ["Comparator", "answer_text", "comparator", "same_words", "text_body"]

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


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def same_words(one: str, two: str) -> bool:
    """The ``normalised`` comparison: the same words, case, spacing and punctuation aside."""
    return _normalised(one) == _normalised(two)


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
        return same_words
    return _json_agrees(fields)
