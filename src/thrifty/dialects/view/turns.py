"""The neutral shapes of a request (:class:`Part`, :class:`Turn`, :class:`Tool`) and
reading them from each dialect's wire messages and tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from thrifty.types import Dialect

_SYSTEM_ROLES = frozenset({"system", "developer"})
_OPENAI_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id"})
_ANTHROPIC_MESSAGE_KEYS = frozenset({"role", "content"})
_TEXT_BLOCK_KEYS = frozenset({"type", "text", "cache_control"})
_OPENAI_FN_KEYS = frozenset({"name", "description", "parameters"})
_ANTHROPIC_TOOL_KEYS = frozenset({"name", "description", "input_schema", "type", "cache_control"})

PartKind = Literal["text", "tool_call", "tool_result", "other"]


# -- the neutral shapes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a turn.

    * ``"text"``: ``text``.
    * ``"tool_call"``: the model asked for tool ``name`` with arguments ``input`` (a JSON
      value; OpenAI's argument string is parsed, or kept as the string when it is not
      JSON); ``id`` pairs it with its result.
    * ``"tool_result"``: the answer to the call ``id``; ``content`` holds its parts,
      ``is_error`` marks a failed call.
    * ``"other"``: anything else (images, audio, files, thinking blocks, refusals, server
      tool blocks, malformed values): ``raw`` is the wire value, written back verbatim.

    ``raw`` is the wire value the part was read from (``None`` for parts built in code).
    """

    kind: PartKind
    text: str = ""
    id: str | None = None
    name: str | None = None
    input: Any = None
    content: tuple[Part, ...] = ()
    is_error: bool = False
    raw: Any = None

    @property
    def all_text(self) -> str:
        """The part's readable text: a text part's text, a tool result's text parts."""
        if self.kind == "text":
            return self.text
        if self.kind == "tool_result":
            return "\n".join(p.text for p in self.content if p.kind == "text")
        return ""


def text_part(text: str) -> Part:
    return Part("text", text=text)


def tool_call_part(id: str | None, name: str | None, input: Any) -> Part:
    return Part("tool_call", id=id, name=name, input=input)


def tool_result_part(id: str | None, content: str | Sequence[Part], is_error: bool = False) -> Part:
    parts = (text_part(content),) if isinstance(content, str) else tuple(content)
    return Part("tool_result", id=id, content=parts, is_error=is_error)


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation (system prompts are not turns: see
    :attr:`RequestView.system`).

    ``role`` is ``"user"``, ``"assistant"`` or ``"tool"`` (an OpenAI ``tool`` message: its
    one part is a ``tool_result``); Anthropic tool results are ``tool_result`` parts of
    ``user`` turns.  Find results by part kind and ``id``, not by role.  Unknown roles are
    kept as given (``""`` for a message that is not an object).

    ``raw`` and ``source`` are the wire message and its dialect, when the turn was read
    from a body: an unchanged turn is written back as that very object.
    """

    role: str
    parts: tuple[Part, ...] = ()
    raw: Any = field(default=None, repr=False)
    source: Dialect | None = None

    @classmethod
    def of(cls, role: str, text: str) -> Turn:
        """A plain text turn."""
        return cls(role, (text_part(text),))

    @property
    def text(self) -> str:
        """Readable text: text parts and tool results' text, joined by newlines (tool call
        arguments and other parts are not included)."""
        return "\n".join(t for p in self.parts if (t := p.all_text))

    @property
    def tool_calls(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.kind == "tool_call")

    @property
    def tool_results(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.kind == "tool_result")


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the model may call.  ``kind`` is ``"function"`` for OpenAI function tools and
    Anthropic custom tools (``schema`` is their JSON schema); anything else (server tools,
    OpenAI custom tools) keeps its wire ``type`` and ``schema`` is ``None``."""

    name: str | None
    description: str | None
    schema: Any
    kind: str
    raw: Any


# -- reading -------------------------------------------------------------------------------


def _other(raw: Any) -> Part:
    return Part("other", raw=raw)


def _text_or_other(block: Any) -> Part:
    if isinstance(block, dict) and block.get("type") == "text":
        text = block.get("text")
        if isinstance(text, str):
            return Part("text", text=text, raw=block)
    return _other(block)


def _content_parts(content: Any) -> tuple[Part, ...]:
    """OpenAI content or Anthropic tool-result/system content: a string or text parts."""
    if content is None:
        return ()
    if isinstance(content, str):
        return (Part("text", text=content),)
    if isinstance(content, list):
        return tuple(_text_or_other(block) for block in content)
    return (_other(content),)


def _parse_arguments(arguments: Any) -> Any:
    if not isinstance(arguments, str | bytes):
        return arguments
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


def _openai_tool_call(call: Any) -> Part:
    if isinstance(call, dict) and call.get("type", "function") == "function":
        fn = call.get("function")
        if isinstance(fn, dict):
            name = fn.get("name")
            return Part(
                "tool_call",
                id=_str_or_none(call.get("id")),
                name=name if isinstance(name, str) else None,
                input=_parse_arguments(fn.get("arguments")),
                raw=call,
            )
    return _other(call)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _read_openai_turn(message: Any) -> Turn:
    if not isinstance(message, dict):
        return Turn("", (_other(message),), message, "openai")
    role = message.get("role")
    role = role if isinstance(role, str) else ""
    if role == "tool":
        part = Part(
            "tool_result",
            id=_str_or_none(message.get("tool_call_id")),
            content=_content_parts(message.get("content")),
            raw=message,
        )
        return Turn(role, (part,), message, "openai")
    parts = _content_parts(message.get("content"))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        parts += tuple(_openai_tool_call(call) for call in calls)
    elif calls is not None:
        parts += (_other(calls),)
    return Turn(role, parts, message, "openai")


def _anthropic_block(block: Any) -> Part:
    if not isinstance(block, dict):
        return _other(block)
    kind = block.get("type")
    if kind == "text":
        return _text_or_other(block)
    if kind == "tool_use":
        name = block.get("name")
        return Part(
            "tool_call",
            id=_str_or_none(block.get("id")),
            name=name if isinstance(name, str) else None,
            input=block.get("input"),
            raw=block,
        )
    if kind == "tool_result":
        return Part(
            "tool_result",
            id=_str_or_none(block.get("tool_use_id")),
            content=_content_parts(block.get("content")),
            is_error=block.get("is_error") is True,
            raw=block,
        )
    return _other(block)


def _read_anthropic_turn(message: Any) -> Turn:
    if not isinstance(message, dict):
        return Turn("", (_other(message),), message, "anthropic")
    role = message.get("role")
    role = role if isinstance(role, str) else ""
    content = message.get("content")
    if isinstance(content, str):
        parts: tuple[Part, ...] = (Part("text", text=content),)
    elif isinstance(content, list):
        parts = tuple(_anthropic_block(block) for block in content)
    elif content is None:
        parts = ()
    else:
        parts = (_other(content),)
    return Turn(role, parts, message, "anthropic")


def _read_turn(message: Any, dialect: Dialect) -> Turn:
    return _read_openai_turn(message) if dialect == "openai" else _read_anthropic_turn(message)


def _read_tool(tool: Any, dialect: Dialect) -> Tool:
    if not isinstance(tool, dict):
        return Tool(None, None, None, "", tool)
    if dialect == "openai":
        fn = tool.get("function")
        if tool.get("type") == "function" and isinstance(fn, dict):
            return Tool(
                _str_or_none(fn.get("name")),
                _str_or_none(fn.get("description")),
                fn.get("parameters"),
                "function",
                tool,
            )
        inner = tool.get(tool.get("type")) if isinstance(tool.get("type"), str) else None
        name = inner.get("name") if isinstance(inner, dict) else tool.get("name")
        return Tool(_str_or_none(name), None, None, str(tool.get("type", "")), tool)
    kind = tool.get("type")
    if kind in (None, "custom") and "input_schema" in tool:
        return Tool(
            _str_or_none(tool.get("name")),
            _str_or_none(tool.get("description")),
            tool.get("input_schema"),
            "function",
            tool,
        )
    return Tool(_str_or_none(tool.get("name")), None, None, str(kind or ""), tool)
