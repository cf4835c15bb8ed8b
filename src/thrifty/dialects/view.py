"""A dialect-neutral read view of a :class:`~thrifty.types.ChatRequest`, and the edits
levers need, written back in the request's own dialect.

Levers (cache, compression, history trimming, output caps, routing) read a request through
:class:`RequestView` instead of handling OpenAI chat completions and Anthropic messages
bodies themselves::

    view = RequestView.of(request)
    view.system, view.messages, view.tools, view.max_output_tokens, view.sampling
    key = view.cache_key()
    shorter = view.with_messages(view.messages[-4:])   # a new ChatRequest, same dialect

Reading is cheap and lazy: ``of`` only stores the request; each field is computed on first
access, straight from the body's own objects (a text part's ``text`` *is* the body's
string).  Nothing is copied and nothing is mutated.  Edits return a new ``ChatRequest``
(:func:`dataclasses.replace`) with a new top-level body dict; nested objects the edit does
not touch are shared, never modified.  An edit that changes nothing returns the original
request itself.

The view never raises on an odd body: whatever cannot be read as text, a tool call or a
tool result is kept as an ``"other"`` part holding the wire value (``raw``), so it is still
written back and still counted in the cache key.  See docs/architecture.md, "Request view",
for exactly what goes into :meth:`RequestView.cache_key`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import orjson

from thrifty.types import JSON, ChatRequest, Dialect

__all__ = [
    "CACHE_KEY_VERSION",
    "NOT_IN_CACHE_KEY",
    "Part",
    "RequestView",
    "Tool",
    "Turn",
    "text_part",
    "tool_call_part",
    "tool_result_part",
]

CACHE_KEY_VERSION = 1

# Top-level body fields that never change what the model answers: left out of the key.
NOT_IN_CACHE_KEY = frozenset(
    {
        "stream",
        "stream_options",
        "metadata",
        "user",
        "safety_identifier",  # OpenAI's successor of ``user``
        "prompt_cache_key",  # OpenAI prompt-cache routing hint
        "prompt_cache_retention",
        "store",  # OpenAI: keep the completion for the dashboard
        "cache_control",  # Anthropic automatic prompt caching
    }
)

# Fields the key covers in their own canonical form (not as plain parameters).
_STRUCTURAL = frozenset({"model", "messages", "system", "tools"})

# Sampling parameters, by their neutral name (``stop`` for both dialects).
_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "verbosity",
    "thinking",
)

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


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


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


# -- the cache key's canonical form ----------------------------------------------------------


def _no_cache_control(value: Any) -> Any:
    if isinstance(value, dict) and "cache_control" in value:
        return {k: v for k, v in value.items() if k != "cache_control"}
    return value


def _number(value: Any) -> Any:
    """JSON numbers: ``1.0`` and ``1`` are the same number."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Ids:
    """Tool-call ids by order of first appearance: ids are random per run, only the pairing
    of a call with its result means anything."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, id: Any) -> Any:
        if not isinstance(id, str):
            return id
        return self.seen.setdefault(id, len(self.seen))


# The canonical forms below are built straight from the wire body (no Turn or Part objects,
# so the key stays cheap).  They mirror the reading functions above: a plain text part is
# its string, other parts are tagged lists, and content that is exactly one plain text part
# is that string, so ``"hi"`` and ``[{"type": "text", "text": "hi"}]`` are the same.


def _canon_block(block: Any, ids: _Ids, anthropic: bool) -> Any:
    if not isinstance(block, dict):
        return ["other", block]
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if isinstance(text, str):
            if block.keys() <= _TEXT_BLOCK_KEYS:
                return text
            return ["text", text, {k: v for k, v in block.items() if k not in _TEXT_BLOCK_KEYS}]
    elif anthropic and kind == "tool_use":
        return ["tool_call", ids(block.get("id")), block.get("name"), block.get("input")]
    elif anthropic and kind == "tool_result":
        content = _canon_content(block.get("content"), ids, anthropic)
        return [
            "tool_result",
            ids(block.get("tool_use_id")),
            content,
            block.get("is_error") is True,
        ]
    return ["other", _no_cache_control(block)]


def _collapse(parts: list[Any]) -> Any:
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return parts


def _canon_content(content: Any, ids: _Ids, anthropic: bool) -> Any:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _collapse([_canon_block(b, ids, anthropic) for b in content])
    if content is None:
        return []
    return [["other", content]]


def _canon_openai_call(call: Any, ids: _Ids) -> Any:
    if isinstance(call, dict) and call.get("type", "function") == "function":
        fn = call.get("function")
        if isinstance(fn, dict):
            arguments = _parse_arguments(fn.get("arguments"))
            return ["tool_call", ids(call.get("id")), fn.get("name"), arguments]
    return ["other", call]


def _canon_message(message: Any, ids: _Ids, anthropic: bool) -> Any:
    # The common case, {"role": ..., "content": "..."}, is its own canonical form.
    if (
        type(message) is dict
        and len(message) == 2
        and type(message.get("content")) is str
        and type(message.get("role")) is str
        and message["role"] != "tool"
    ):
        return message
    if not isinstance(message, dict):
        return ["other", message]
    role = message.get("role")
    out: JSON = {"role": role if isinstance(role, str) else ""}
    if anthropic:
        out["content"] = _canon_content(message.get("content"), ids, anthropic)
        if not message.keys() <= _ANTHROPIC_MESSAGE_KEYS:
            out["extra"] = _no_cache_control(
                {k: v for k, v in message.items() if k not in _ANTHROPIC_MESSAGE_KEYS}
            )
        return out
    content = _canon_content(message.get("content"), ids, anthropic)
    if role == "tool":
        out["content"] = [["tool_result", ids(message.get("tool_call_id")), content, False]]
    else:
        calls = message.get("tool_calls")
        if calls is not None:
            parts = [content] if isinstance(content, str) else list(content)
            if isinstance(calls, list):
                parts.extend(_canon_openai_call(call, ids) for call in calls)
            else:
                parts.append(["other", calls])
            content = _collapse(parts)
        out["content"] = content
    if not message.keys() <= _OPENAI_MESSAGE_KEYS:
        out["extra"] = {k: v for k, v in message.items() if k not in _OPENAI_MESSAGE_KEYS}
    return out


def _canon_tool(tool: Any, dialect: Dialect) -> Any:
    if not isinstance(tool, dict):
        return ["other", tool]
    if dialect == "openai":
        fn = tool.get("function")
        if tool.get("type") == "function" and isinstance(fn, dict):
            extra = {k: v for k, v in fn.items() if k not in _OPENAI_FN_KEYS}
            extra.update((k, v) for k, v in tool.items() if k not in ("type", "function"))
            return ["function", fn.get("name"), fn.get("description"), fn.get("parameters"), extra]
    elif tool.get("type") in (None, "custom") and "input_schema" in tool:
        extra = {k: v for k, v in tool.items() if k not in _ANTHROPIC_TOOL_KEYS}
        name, description = tool.get("name"), tool.get("description")
        return ["function", name, description, tool.get("input_schema"), extra]
    return ["other", _no_cache_control(tool)]


def _stop_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _canon_params(body: Mapping[str, Any], dialect: Dialect) -> JSON:
    params: JSON = {}
    for key, value in body.items():
        if value is None or key in _STRUCTURAL or key in NOT_IN_CACHE_KEY:
            continue
        params[key] = _number(value)
    if dialect == "openai":
        if "max_tokens" in params and "max_completion_tokens" not in params:
            params["max_completion_tokens"] = params.pop("max_tokens")
        if "stop" in params:
            params["stop"] = _stop_list(params["stop"])
        if params.get("n") == 1:
            del params["n"]
        if params.get("response_format") == {"type": "text"}:
            del params["response_format"]
        if params.get("parallel_tool_calls") is True:
            del params["parallel_tool_calls"]
    else:
        if "stop_sequences" in params:
            params["stop"] = params.pop("stop_sequences")
        if "max_tokens" in params:
            params["max_completion_tokens"] = params.pop("max_tokens")
    if params.get("stop") in ([], ""):
        del params["stop"]
    return params


def _digest(canonical: Any) -> str:
    try:
        data = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        # Values JSON cannot hold (library callers can pass any object): keyed by str().
        try:
            text = json.dumps(canonical, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(canonical)
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


# -- the view ------------------------------------------------------------------------------


class RequestView:
    """A read view of one request in either dialect, and edits that return new requests.

    Fields are computed lazily on first access; the view holds the request, never a copy
    of its body.
    """

    def __init__(self, request: ChatRequest) -> None:
        self.request = request

    @classmethod
    def of(cls, request: ChatRequest) -> RequestView:
        return cls(request)

    @property
    def dialect(self) -> Dialect:
        return self.request.dialect

    @property
    def body(self) -> JSON:
        return self.request.body

    # -- reading --------------------------------------------------------------------------

    @cached_property
    def _wire_messages(self) -> list[Any]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @cached_property
    def _all_turns(self) -> tuple[Turn, ...]:
        """Every wire message as a turn, OpenAI system/developer messages included."""
        dialect = self.dialect
        return tuple(_read_turn(m, dialect) for m in self._wire_messages)

    @cached_property
    def messages(self) -> tuple[Turn, ...]:
        """The conversation, in order, without the system prompt."""
        return tuple(t for t in self._all_turns if t.role not in _SYSTEM_ROLES)

    @cached_property
    def system_parts(self) -> tuple[Part, ...]:
        """The system prompt as parts: every OpenAI system/developer message's parts, in
        order; Anthropic's top-level ``system`` (a string or blocks)."""
        if self.dialect == "openai":
            return tuple(p for t in self._all_turns if t.role in _SYSTEM_ROLES for p in t.parts)
        return _content_parts(self.body.get("system"))

    @cached_property
    def system(self) -> str | None:
        """The system prompt's text (its text parts joined by newlines), or ``None`` when
        the request has no system prompt."""
        texts = [p.text for p in self.system_parts if p.kind == "text"]
        return "\n".join(texts) if texts else None

    @cached_property
    def tools(self) -> tuple[Tool, ...]:
        tools = self.body.get("tools")
        if not isinstance(tools, list):
            return ()
        dialect = self.dialect
        return tuple(_read_tool(t, dialect) for t in tools)

    @property
    def max_output_tokens(self) -> int | None:
        """OpenAI ``max_completion_tokens`` (else ``max_tokens``); Anthropic ``max_tokens``."""
        body = self.body
        if self.dialect == "openai":
            found = _int(body.get("max_completion_tokens"))
            return found if found is not None else _int(body.get("max_tokens"))
        return _int(body.get("max_tokens"))

    @cached_property
    def sampling(self) -> JSON:
        """The sampling parameters the request sets (``None`` values left out), by neutral
        name: ``temperature``, ``top_p``, ``top_k``, ``stop`` (OpenAI ``stop``, Anthropic
        ``stop_sequences``; always a list), ``seed``, ``n``, ``frequency_penalty``,
        ``presence_penalty``, ``logit_bias``, ``logprobs``, ``top_logprobs``,
        ``reasoning_effort``, ``verbosity``, ``thinking``."""
        body = self.body
        out: JSON = {}
        for name in _SAMPLING:
            wire = "stop_sequences" if name == "stop" and self.dialect == "anthropic" else name
            value = body.get(wire)
            if value is not None:
                out[name] = _stop_list(value) if name == "stop" else value
        return out

    @property
    def stop(self) -> list[Any]:
        stop = self.sampling.get("stop")
        return list(stop) if isinstance(stop, list) else []

    @property
    def response_format(self) -> Any:
        """OpenAI ``response_format``; Anthropic ``output_format``, else
        ``output_config.format``.  ``None`` when unset."""
        body = self.body
        if self.dialect == "openai":
            return body.get("response_format")
        if body.get("output_format") is not None:
            return body["output_format"]
        config = body.get("output_config")
        return config.get("format") if isinstance(config, dict) else None

    @property
    def stream(self) -> bool:
        return self.request.stream

    # -- the cache key --------------------------------------------------------------------

    def canonical(self) -> JSON:
        """The canonical form :meth:`cache_key` hashes (see docs/architecture.md)."""
        ids = _Ids()
        request = self.request
        body = self.body
        dialect = request.dialect
        anthropic = dialect == "anthropic"
        canonical: JSON = {"v": CACHE_KEY_VERSION, "dialect": dialect, "model": request.model}
        if anthropic:  # canonicalised first: it comes first in the prompt (ids in order)
            canonical["system"] = _canon_content(body.get("system"), ids, anthropic)
        messages = body.get("messages")
        if isinstance(messages, list):
            # OpenAI system messages keep their place in the conversation.
            canonical["messages"] = [_canon_message(m, ids, anthropic) for m in messages]
        else:
            canonical["messages"] = ["other", messages]
        tools = body.get("tools")
        if isinstance(tools, list):
            canonical["tools"] = [_canon_tool(t, dialect) for t in tools]
        elif tools is not None:
            canonical["tools"] = ["other", tools]
        canonical["params"] = _canon_params(body, dialect)
        if request.upstream_headers:
            canonical["headers"] = sorted(request.upstream_headers)
        return canonical

    def cache_key(self) -> str:
        """A stable hex digest (SHA-256) of :meth:`canonical`: requests with the
        same meaning share it, whatever their key order or spelling."""
        cached: str | None = self.__dict__.get("_cache_key")
        if cached is None:
            cached = _digest(self.canonical())
            self.__dict__["_cache_key"] = cached
        return cached

    # -- edits ----------------------------------------------------------------------------

    def _edited(self, changes: Mapping[str, Any], drop: Iterable[str] = ()) -> ChatRequest:
        body = self.body
        drop = [k for k in drop if k in body]
        if not drop and all(k in body and body[k] is v for k, v in changes.items()):
            return self.request
        new = {k: v for k, v in body.items() if k not in drop}
        new.update(changes)
        return dataclasses.replace(self.request, body=new)

    def with_max_output_tokens(self, n: int) -> ChatRequest:
        """Cap the output at ``n`` tokens.  Anthropic: ``max_tokens``.  OpenAI: the field
        the app used (both, when it sent both), ``max_completion_tokens`` by default."""
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"max output tokens must be a positive integer, not {n!r}")
        body = self.body
        if self.dialect == "anthropic":
            fields = ["max_tokens"]
        else:
            fields = [f for f in ("max_completion_tokens", "max_tokens") if f in body]
            fields = fields or ["max_completion_tokens"]
        if all(body.get(f) == n and type(body.get(f)) is int for f in fields):
            return self.request
        return self._edited(dict.fromkeys(fields, n))

    def with_stop(self, sequences: str | Sequence[str]) -> ChatRequest:
        """Set the stop sequences (OpenAI ``stop``, Anthropic ``stop_sequences``, written as
        a list); an empty sequence removes them."""
        new = [sequences] if isinstance(sequences, str) else list(sequences)
        field = "stop" if self.dialect == "openai" else "stop_sequences"
        if not new:
            return self._edited({}, drop=[field])
        if self.body.get(field) == new:
            return self.request
        return self._edited({field: new})

    def with_system(self, text: str | None) -> ChatRequest:
        """Replace the system prompt (``None`` or ``""`` removes it).

        OpenAI: every system/developer message is removed and one message with ``text`` is
        put first, with the role the app used (``system`` by default).  Anthropic: a string,
        or, when the app sent blocks, one text block that keeps the last block's
        ``cache_control`` (so a prompt-cache breakpoint is not silently lost)."""
        parts = self.system_parts
        if not text and not parts:
            return self.request
        if text and len(parts) == 1 and parts[0].kind == "text" and parts[0].text == text:
            return self.request
        if self.dialect == "anthropic":
            if not text:
                return self._edited({}, drop=["system"])
            old = self.body.get("system")
            if isinstance(old, list):
                block: JSON = {"type": "text", "text": text}
                last = old[-1] if old else None
                if isinstance(last, dict) and "cache_control" in last:
                    block["cache_control"] = last["cache_control"]
                return self._edited({"system": [block]})
            return self._edited({"system": text})
        role = next((t.role for t in self._all_turns if t.role in _SYSTEM_ROLES), "system")
        rest = [m for m, t in zip(self._wire_messages, self._all_turns, strict=True)]
        rest = [
            m for m, t in zip(rest, self._all_turns, strict=True) if t.role not in _SYSTEM_ROLES
        ]
        head = [{"role": role, "content": text}] if text else []
        return self._edited({"messages": head + rest})

    def with_messages(self, turns: Iterable[Turn]) -> ChatRequest:
        """Replace the conversation, written in the request's dialect; the system prompt is
        kept (OpenAI: every system/developer message, unchanged, first).  Unchanged turns
        read from this request are written back as their original objects; a turn built or
        changed in code is written in the dialect's plain form (see docs/architecture.md)."""
        turns = tuple(turns)
        if turns == self.messages:
            return self.request
        if self.dialect == "openai":
            system = [
                m
                for m, t in zip(self._wire_messages, self._all_turns, strict=True)
                if t.role in _SYSTEM_ROLES
            ]
            return self._edited({"messages": system + _write_openai(turns)})
        return self._edited({"messages": _write_anthropic(turns)})

    def __repr__(self) -> str:
        return f"RequestView({self.dialect}, model={self.request.model!r})"
