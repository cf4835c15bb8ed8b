"""Where a request's compressible texts are, in either dialect, and writing them back.

Compressible: the system prompt (OpenAI ``system``/``developer`` messages, Anthropic
``system``) and user text; tool results only have their JSON minified.  Assistant turns
are never touched (they are the model's own words, and may be signed).  Only text
strings change: every message, block and field keeps its place, so a valid request stays
valid.  The edited body shares every object it did not change with the original.

A conversation thrifty cannot read with confidence is **malformed** (:func:`problem`) and
is passed through unchanged: no messages, a message that is not an object or has no
known role, an empty user or system message (or, in Anthropic's dialect, an empty
assistant message before the last), a tool result without its call, or a single
message over :data:`MAX_MESSAGE_TOKENS` (estimated).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from thrifty.types import JSON, ChatRequest

SlotKind = Literal["system", "user", "tool"]
Path = tuple[str | int, ...]
CHARS_PER_TOKEN = 4
MAX_MESSAGE_TOKENS = 200_000
# A text of at most this many characters is never oversized, so it is not serialised to be
# measured: JSON writes a character in at most 6 bytes (``\u001f``), and two quotes.
_SURELY_NOT_OVERSIZED = (MAX_MESSAGE_TOKENS * CHARS_PER_TOKEN - 2) // 6
_OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ANTHROPIC_ROLES = frozenset({"user", "assistant"})


@dataclass(frozen=True, slots=True)
class Slot:
    """One compressible text: where it is in the body, what it says, what kind it is."""

    path: Path
    text: str
    kind: SlotKind
    where: str  # for people: "system", "message 3"


def estimate_tokens(chars: int) -> int:
    """A cheap token estimate: characters / 4, rounded up (English prose averages about 4
    characters a token in OpenAI's and Anthropic's tokenizers)."""
    return -(-chars // CHARS_PER_TOKEN)


def prompt_tokens(body: JSON) -> int:
    """The prompt's estimated size: the JSON of its messages and system prompt / 4."""
    prompt = (body.get("messages"), body.get("system"))
    try:
        return estimate_tokens(len(orjson.dumps(prompt)))
    except TypeError:  # a library caller's value JSON cannot hold
        return estimate_tokens(len(str(prompt)))


def slots(request: ChatRequest) -> list[Slot]:
    """The compressible texts of ``request``, in prompt order."""
    body = request.body
    if request.dialect == "anthropic":
        return list(_anthropic_slots(body))
    return list(_openai_slots(body))


def _text_parts(content: Any, path: Path, kind: SlotKind, where: str) -> Iterator[Slot]:
    if isinstance(content, str):
        yield Slot(path, content, kind, where)
    elif isinstance(content, list):
        for j, block in enumerate(content):
            if isinstance(block, dict) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    yield Slot((*path, j, "text"), text, kind, f"{where} block {j + 1}")


_OPENAI_KINDS: dict[str, SlotKind] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "tool": "tool",
}


def _openai_slots(body: JSON) -> Iterator[Slot]:
    for i, message in enumerate(body.get("messages") or ()):
        role = message.get("role") if isinstance(message, dict) else None
        kind = _OPENAI_KINDS.get(role) if isinstance(role, str) else None
        if kind is not None:
            path: Path = ("messages", i, "content")
            yield from _text_parts(message.get("content"), path, kind, f"message {i + 1}")


def _anthropic_slots(body: JSON) -> Iterator[Slot]:
    yield from _text_parts(body.get("system"), ("system",), "system", "system")
    for i, message in enumerate(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        where = f"message {i + 1}"
        content = message.get("content")
        path: Path = ("messages", i, "content")
        yield from _text_parts(content, path, "user", where)
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                yield from _text_parts(block.get("content"), (*path, j, "content"), "tool", where)


def written(body: JSON, changes: Mapping[Path, str]) -> JSON:
    """``body`` with the text at each path replaced: the containers on a changed path are
    copied, everything else is shared with ``body`` (which is never modified)."""
    out = dict(body)
    copies: dict[Path, Any] = {(): out}
    for path, text in changes.items():
        node: Any = out
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in copies:
                key = path[depth - 1]
                child = node[key]
                copies[prefix] = node[key] = list(child) if isinstance(child, list) else dict(child)
            node = copies[prefix]
        node[path[-1]] = text
    return out


def problem(request: ChatRequest) -> str | None:
    """Why the conversation is malformed (see the module docstring), or ``None``."""
    messages = request.body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    anthropic = request.dialect == "anthropic"
    roles = _ANTHROPIC_ROLES if anthropic else _OPENAI_ROLES
    calls: set[str] = set()
    for i, message in enumerate(messages):
        where = f"message {i + 1}"
        if not isinstance(message, dict) or message.get("role") not in roles:
            return f"{where} has no known role"
        role, content = message["role"], message.get("content")
        if role in ("system", "developer", "user") and content in ("", [], None):
            return f"{where} is empty"
        if anthropic and role == "assistant" and i < len(messages) - 1 and content in ("", []):
            # Anthropic refuses an empty message anywhere but the final assistant prefill.
            return f"{where} is empty"
        if not (isinstance(content, str) and len(content) <= _SURELY_NOT_OVERSIZED):
            try:
                size = len(orjson.dumps(content))
            except TypeError:
                size = len(str(content))
            if estimate_tokens(size) > MAX_MESSAGE_TOKENS:
                return f"{where} is oversized (~{estimate_tokens(size):,} tokens)"
        found = _anthropic_calls(content) if anthropic else _openai_calls(message)
        if found is None:
            return f"{where} has a tool result without its call"
        if role == "assistant":
            calls.update(found)
        elif found - calls:
            return f"{where} has a tool result without its call"
    return None


def _openai_calls(message: JSON) -> set[str] | None:
    """The tool-call ids an assistant message makes, or a tool message answers."""
    if message.get("role") == "tool":
        answered = message.get("tool_call_id")
        return {answered} if isinstance(answered, str) else None
    ids: set[str] = set()
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            ids.add(call["id"])
    return ids


def _anthropic_calls(content: Any) -> set[str] | None:
    """The ids of ``tool_use`` blocks (assistant) or ``tool_result`` blocks (user)."""
    ids: set[str] = set()
    if not isinstance(content, list):
        return ids
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        key = "id" if kind == "tool_use" else "tool_use_id" if kind == "tool_result" else None
        if key is not None:
            value = block.get(key)
            if not isinstance(value, str):
                return None
            ids.add(value)
    return ids
