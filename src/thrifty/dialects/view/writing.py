"""Writing turns back in each dialect's wire form: unchanged turns as their original
objects, turns built or changed in code in the dialect's plain form."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from thrifty.dialects.view.turns import (
    _OPENAI_MESSAGE_KEYS,
    _SYSTEM_ROLES,
    Part,
    Turn,
    _anthropic_block,
    _read_anthropic_turn,
    _read_openai_turn,
)
from thrifty.types import JSON, Dialect

# -- writing -------------------------------------------------------------------------------


def _tool_input_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value if value is not None else {}).decode()


def _openai_content(parts: Sequence[Part], reuse: bool) -> Any:
    if len(parts) == 1 and parts[0].kind == "text":
        only = parts[0]
        if not (reuse and isinstance(only.raw, dict)):
            return only.text
    out: list[Any] = []
    for part in parts:
        if part.kind == "text":
            raw = part.raw
            if reuse and isinstance(raw, dict) and raw.get("text") == part.text:
                out.append(raw)
            else:
                out.append({"type": "text", "text": part.text})
        else:
            out.append(part.raw)
    return out


def _message_extras(turn: Turn, dialect: Dialect) -> JSON:
    """Message-level fields (OpenAI ``name``...) of a turn read from this dialect."""
    raw = turn.raw
    if dialect != "openai" or turn.source != dialect or not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if k not in _OPENAI_MESSAGE_KEYS}


def _write_openai(turns: Iterable[Turn]) -> list[Any]:
    out: list[Any] = []
    for turn in turns:
        if turn.source == "openai" and turn.raw is not None and _read_openai_turn(turn.raw) == turn:
            out.append(turn.raw)
            continue
        reuse = turn.source == "openai"
        extras = _message_extras(turn, "openai")
        content: list[Part] = []
        calls: list[Any] = []
        for part in turn.parts:
            if part.kind == "tool_result":
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": part.id,
                        "content": _openai_content(part.content, reuse) if part.content else "",
                    }
                )
            elif part.kind == "tool_call":
                calls.append(
                    {
                        "id": part.id,
                        "type": "function",
                        "function": {"name": part.name, "arguments": _tool_input_json(part.input)},
                    }
                )
            else:
                content.append(part)
        if turn.role == "tool" and not content and not calls:
            continue  # its tool results are written above
        role = "user" if turn.role == "tool" else turn.role
        message: JSON = {"role": role, **extras}
        if content:
            message["content"] = _openai_content(content, reuse)
        else:
            message["content"] = None if calls else ""
        if calls:
            message["tool_calls"] = calls
        out.append(message)
    return out


def _anthropic_blocks(parts: Sequence[Part], reuse: bool) -> list[Any]:
    blocks: list[Any] = []
    for part in parts:
        raw = part.raw
        if reuse and isinstance(raw, dict) and _anthropic_block(raw) == part:
            blocks.append(raw)
        elif part.kind == "text":
            blocks.append({"type": "text", "text": part.text})
        elif part.kind == "tool_call":
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.id,
                    "name": part.name,
                    "input": part.input if part.input is not None else {},
                }
            )
        elif part.kind == "tool_result":
            block: JSON = {"type": "tool_result", "tool_use_id": part.id}
            if part.content:
                block["content"] = _anthropic_content(part.content, reuse)
            if part.is_error:
                block["is_error"] = True
            blocks.append(block)
        else:
            blocks.append(raw)
    return blocks


def _anthropic_content(parts: Sequence[Part], reuse: bool) -> Any:
    if len(parts) == 1 and parts[0].kind == "text" and not (reuse and parts[0].raw is not None):
        return parts[0].text
    return _anthropic_blocks(parts, reuse)


def _write_anthropic(turns: Iterable[Turn]) -> list[Any]:
    out: list[Any] = []
    merging = False  # the last message holds tool results of "tool" turns
    for turn in turns:
        if turn.role in _SYSTEM_ROLES:
            raise ValueError("an Anthropic request has no system turns: use with_system()")
        reuse = turn.source == "anthropic"
        if turn.role == "tool":
            blocks = _anthropic_blocks(turn.parts, reuse)
            if merging:
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": "user", "content": blocks})
                merging = True
            continue
        merging = False
        if reuse and turn.raw is not None and _read_anthropic_turn(turn.raw) == turn:
            out.append(turn.raw)
        else:
            out.append({"role": turn.role, "content": _anthropic_content(turn.parts, reuse)})
    return out
