"""Conversations the gateway keeps, as data: what is stored, how a request is joined to
it, and how the stored turns are kept within their bounds (no I/O here).

A stored conversation is its system prompt (the last one the app sent: OpenAI's leading
system/developer messages, Anthropic's ``system``) and its messages, JSON-encoded.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from thrifty.types import JSON, ChatRequest, Dialect

KEY_PREFIX = "conversation:"
_SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """``system``: OpenAI, a list of system/developer messages; Anthropic, the
    ``system`` value (``None``: none sent yet)."""

    system: Any
    messages: list[Any]

    def encode(self) -> bytes:
        return orjson.dumps({"system": self.system, "messages": self.messages})

    @classmethod
    def decode(cls, raw: bytes) -> StoredConversation | None:
        """``None`` for a value that is not a stored conversation."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            return None
        return cls(data.get("system"), data["messages"])


def conversation_key(tenant: str | None, dialect: Dialect, conversation_id: str) -> str:
    """The store key of a conversation: a digest, so that one tenant's id never names
    another tenant's conversation and no id reaches the store as such."""
    who = f"{tenant or ''}\0{dialect}\0{conversation_id}".encode()
    return KEY_PREFIX + hashlib.sha256(who).hexdigest()


def split(request: ChatRequest) -> tuple[Any, list[Any]]:
    """(the system prompt ``request`` sends, ``None`` if none; its other messages)."""
    messages = request.body.get("messages")
    messages = list(messages) if isinstance(messages, list) else []
    if request.dialect == "anthropic":
        system = request.body.get("system")
        return (system if system else None), messages
    head = 0
    while head < len(messages) and _role(messages[head]) in _SYSTEM_ROLES:
        head += 1
    return (messages[:head] or None), messages[head:]


def joined(request: ChatRequest, stored: StoredConversation) -> ChatRequest:
    """``request`` with the stored turns before its own messages, and the stored system
    prompt when it sends none (its own wins when it sends one)."""
    system, new = split(request)
    body = dict(request.body)
    chosen = system if system is not None else stored.system
    if request.dialect == "anthropic":
        if chosen is not None:
            body["system"] = chosen
        body["messages"] = [*stored.messages, *new]
    else:
        body["messages"] = [*(chosen or []), *stored.messages, *new]
    return dataclasses.replace(request, body=body)


def answer_message(dialect: Dialect, body: JSON) -> dict[str, Any] | None:
    """The assistant message an answer body adds to the conversation (``None``: none)."""
    if dialect == "anthropic":
        content = body.get("content")
        if not isinstance(content, list):
            return None
        return {"role": "assistant", "content": content}
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    kept = {k: v for k, v in message.items() if k in ("content", "tool_calls", "refusal")}
    if kept.get("refusal") is None:
        kept.pop("refusal", None)
    return {"role": "assistant", **kept}


def bounded(
    dialect: Dialect, system: Any, messages: Sequence[Any], max_turns: int, max_bytes: int
) -> StoredConversation | None:
    """The conversation within its bounds: the oldest messages dropped until at most
    ``max_turns`` messages and ``max_bytes`` encoded bytes remain, always starting at a
    plain user message (never at a tool result whose call was dropped).  ``None`` when
    even the system prompt alone is over ``max_bytes``."""
    # Each message is encoded once: the stored value is '{"system":S,"messages":[m,...]}'
    # in orjson's compact form, so its size is the sum of the parts.
    sizes = [len(orjson.dumps(m)) for m in messages]
    fixed = len(StoredConversation(system, []).encode())
    suffix = [0] * (len(messages) + 1)
    for i in range(len(messages) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + sizes[i] + 1  # the message and its comma
    starts = [i for i, m in enumerate(messages) if _plain_user(dialect, m)]
    starts.append(len(messages))
    for start in starts:
        size = fixed + max(0, suffix[start] - 1)  # no comma after the last message
        if len(messages) - start <= max_turns and size <= max_bytes:
            return StoredConversation(system, list(messages[start:]))
    return None


def _plain_user(dialect: Dialect, message: Any) -> bool:
    if _role(message) != "user":
        return False
    content = message.get("content")
    if dialect == "anthropic" and isinstance(content, list):
        return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return True


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None
