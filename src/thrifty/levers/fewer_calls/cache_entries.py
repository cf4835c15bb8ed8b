"""What the exact cache stores: a complete answer, and whether an answer may be stored.

An entry is one JSON document (orjson): the answer's body in its wire dialect, the usage of
the call that produced it (what a hit avoids), the model that answered and when.  A stored
stream is kept as the body it adds up to (``thrifty.streams.record``), so a stored stream serves
a non-streamed request and the other way round: the stream flag is not part of the answer.

Only answers that are whole and plain are stored: no error, no refusal, no truncation
(OpenAI ``finish_reason: length``, Anthropic ``stop_reason: max_tokens``), no content
filter, no empty answer without a tool call, no cut or estimated stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from thrifty.types import JSON, ChatResponse, Dialect, Usage

ENTRY_VERSION = 1

# Endings of a complete answer; anything else (length, max_tokens, content_filter,
# refusal, pause_turn...) is not stored.
OPENAI_COMPLETE = frozenset({"stop", "tool_calls", "function_call"})
ANTHROPIC_COMPLETE = frozenset({"end_turn", "stop_sequence", "tool_use"})


class CorruptEntry(ValueError):
    """A stored entry that cannot be read back as an answer."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    dialect: Dialect
    body: JSON
    usage: Usage
    model: str
    stored_at: float

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": ENTRY_VERSION,
                "dialect": self.dialect,
                "model": self.model,
                "usage": self.usage.counts(),
                "stored_at": self.stored_at,
                "body": self.body,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> StoredAnswer:
        """The entry in ``raw``; :class:`CorruptEntry` for anything but a valid one."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CorruptEntry(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("v") != ENTRY_VERSION:
            raise CorruptEntry("not an entry of this version")
        dialect, model, usage, body = (data.get(k) for k in ("dialect", "model", "usage", "body"))
        stored_at = data.get("stored_at")
        if dialect not in ("openai", "anthropic") or not isinstance(model, str):
            raise CorruptEntry("no dialect or model")
        if not isinstance(stored_at, (int, float)) or isinstance(stored_at, bool):
            raise CorruptEntry("no time")
        try:
            counts = Usage.from_counts(usage)
        except ValueError as exc:
            raise CorruptEntry(f"no usage: {exc}") from None
        if not isinstance(body, dict) or why_not_stored(body, dialect) is not None:
            raise CorruptEntry("no complete answer")
        return cls(dialect, body, counts, model, float(stored_at))


def answer_of(response: ChatResponse, body: JSON, now: float | None = None) -> StoredAnswer:
    return StoredAnswer(
        response.dialect,
        body,
        response.usage,
        response.model,
        time.time() if now is None else now,
    )


def why_not_kept(response: ChatResponse) -> str | None:
    """Why the facts of ``response`` rule out storing it (``None``: they do not)."""
    if response.served is None:
        return "not answered by a provider"
    if response.failure is not None:
        return "failed"
    if not response.usage_reported or response.usage_estimated:
        return "no reported usage"
    if response.stream is not None and not response.stream_complete:
        return "stream not complete"
    return None


def why_not_stored(body: JSON, dialect: Dialect) -> str | None:
    """Why ``body`` is not a whole, plain answer (``None``: it is one)."""
    if body.get("error") is not None:
        return "an error"
    if dialect == "anthropic":
        return _anthropic_not_whole(body)
    return _openai_not_whole(body)


def _openai_not_whole(body: JSON) -> str | None:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "no choices"
    for choice in choices:
        if not isinstance(choice, dict):
            return "malformed choice"
        if choice.get("finish_reason") not in OPENAI_COMPLETE:
            return f"finish_reason {choice.get('finish_reason')!r}"
        message = choice.get("message")
        if not isinstance(message, dict):
            return "no message"
        if message.get("refusal"):
            return "a refusal"
        content = message.get("content")
        has_text = bool(content) and isinstance(content, (str, list))
        if not has_text and not message.get("tool_calls") and not message.get("function_call"):
            return "empty answer"
    return None


def _anthropic_not_whole(body: JSON) -> str | None:
    if body.get("type") != "message":
        return "not a message"
    stop = body.get("stop_reason")
    if stop not in ANTHROPIC_COMPLETE:
        return f"stop_reason {stop!r}"
    content = body.get("content")
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        return "malformed content"
    if not any(
        (b.get("type") == "text" and b.get("text")) or b.get("type") == "tool_use" for b in content
    ):
        return "empty answer"
    return None
