"""What the simulated model says besides plain text: tool calls, JSON answers, more choices.

Shared by every dialect: the dialect reads its own request fields into neutral form
(:class:`ToolSpec`, a tool-choice mode, an optional JSON schema) and asks here what to say.

Tool rule (``auto``): the model calls the first offered tool whose name appears in the last
user message (case-insensitive; ``_`` and ``-`` in the name may be spaces), else the first
tool when that message contains the word "tool"; never when the conversation's last message
is a tool result (the model then answers in text).  A forced choice (OpenAI ``"required"`` or
a named function, Anthropic ``any`` or ``tool``) always calls; ``none`` never does.
Arguments are the minimal instance of the tool's JSON schema (:func:`schema_instance`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from thrifty.sim.tokens import Answer, count_tokens, make_answer, truncate_tokens

if TYPE_CHECKING:
    from thrifty.sim.dialect import Prepared

JSONObj = dict[str, Any]

_TOOL_WORD = re.compile(r"\btools?\b", re.IGNORECASE)
_MAX_DEPTH = 32
_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "sim@example.com",
    "uri": "https://example.com/sim",
    "url": "https://example.com/sim",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    schema: JSONObj


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str  # deterministic suffix; dialects add their own prefix (call_, toolu_, fc_)
    name: str
    arguments: str  # compact JSON text


@dataclass(frozen=True, slots=True)
class Output:
    """One choice's output: text, or one tool call; its token count."""

    text: str | None
    tool_call: ToolCall | None
    tokens: int
    capped: bool

    def chunks(self) -> list[str]:
        if self.tool_call is not None:
            return json_chunks(self.tool_call.arguments)
        return Answer(self.text or "", self.tokens, self.capped).chunks()


def json_chunks(text: str, size: int = 16) -> list[str]:
    """JSON text in stream-sized pieces (arguments deltas, partial_json)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _resolve(schema: JSONObj, root: JSONObj) -> JSONObj:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        )
    if not isinstance(node, dict):
        return {}
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    return {**node, **rest}


def schema_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A small instance valid against ``schema`` (JSON Schema subset: ``$ref`` to local
    definitions, ``const``, ``enum``, ``anyOf``/``oneOf``/``allOf``, ``type`` (or a list of
    them), required properties, ``minItems``/``maxItems``, string length and ``format``,
    numeric bounds).  Objects get their required properties only; arrays ``minItems`` items,
    or one when unbounded."""
    if not isinstance(schema, dict):
        return {}
    root = root if isinstance(root, dict) else schema
    schema = _resolve(schema, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return schema_instance((non_null or options)[0], root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: JSONObj = {k: v for k, v in schema.items() if k != "allOf"}
        required: list[Any] = list(merged.get("required") or [])
        props: JSONObj = dict(merged.get("properties") or {})
        for part in all_of:
            part = _resolve(part, root) if isinstance(part, dict) else {}
            merged = {**part, **merged}
            required.extend(part.get("required") or [])
            props.update(part.get("properties") or {})
        merged["required"], merged["properties"] = required, props
        return schema_instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0] if kinds else None
    if kind is None:
        kind = "object" if "properties" in schema else "string" if "format" in schema else None
    if kind == "object":
        props = schema.get("properties") or {}
        out: JSONObj = {}
        for name in schema.get("required") or ():
            out[name] = schema_instance(props.get(name, {}), root, depth + 1)
        return out
    if kind == "array":
        low = schema.get("minItems", 1)
        high = schema.get("maxItems")
        count = min(low, high) if isinstance(high, int) else low
        items = schema.get("items", {})
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [schema_instance(p, root, depth + 1) for p in prefix]
        return [schema_instance(items, root, depth + 1) for _ in range(max(count, 0))]
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format")), "sim")
        low = schema.get("minLength", 0)
        if len(text) < low:
            text = text + "x" * (low - len(text))
        high = schema.get("maxLength")
        return text[:high] if isinstance(high, int) else text
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "sim"  # no type: anything is valid


def _number(schema: JSONObj, integer: bool) -> int | float:
    low = schema.get("minimum")
    xlow = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    xhigh = schema.get("exclusiveMaximum")
    value: float = 0
    if isinstance(low, int | float):
        value = low
    if isinstance(xlow, int | float) and value <= xlow:
        value = xlow + 1 if integer else xlow + 0.5
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(xhigh, int | float) and value >= xhigh:
        value = xhigh - 1 if integer else xhigh - 0.5
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = -(-value // step) * step
    if integer:
        return int(-(-value // 1))
    return value


def _names(text: str, tool: str) -> bool:
    low = text.lower()
    name = tool.lower()
    return name in low or name.replace("_", " ").replace("-", " ") in low


def choose_tool(
    tools: list[ToolSpec],
    mode: str,
    forced: str | None,
    last_user_text: str,
    after_tool_result: bool,
) -> ToolSpec | None:
    """The tool the model calls, or ``None`` for a text answer.  ``mode`` is ``auto``,
    ``any`` (a call is required), ``tool`` (``forced`` names it) or ``none``."""
    if not tools or mode == "none":
        return None
    if mode == "tool":
        return next((t for t in tools if t.name == forced), None)
    if mode == "any":
        return next((t for t in tools if _names(last_user_text, t.name)), tools[0])
    if after_tool_result:
        return None
    found = next((t for t in tools if _names(last_user_text, t.name)), None)
    if found is None and _TOOL_WORD.search(last_user_text):
        found = tools[0]
    return found


def tool_output(tool: ToolSpec, seed: bytes, index: int = 0) -> Output:
    arguments = orjson.dumps(schema_instance(tool.schema)).decode()
    call_id = hashlib.blake2b(seed + bytes([index % 256]), digest_size=12).hexdigest()
    tokens = count_tokens(tool.name) + count_tokens(arguments) + 3
    return Output(
        text=None, tool_call=ToolCall(call_id, tool.name, arguments), tokens=tokens, capped=False
    )


def json_output(answer: Answer, schema: JSONObj | None, max_tokens: int | None) -> Output:
    """A JSON answer: the schema's instance, or ``{"answer": <text>}`` for plain JSON mode.
    A cap cuts the JSON short (as a real model's would be)."""
    value = schema_instance(schema) if schema is not None else {"answer": answer.text}
    text = orjson.dumps(value).decode()
    tokens = count_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        text = truncate_tokens(text, max_tokens)
        return Output(text=text, tool_call=None, tokens=count_tokens(text), capped=True)
    return Output(text=text, tool_call=None, tokens=tokens, capped=False)


def text_output(answer: Answer) -> Output:
    return Output(text=answer.text, tool_call=None, tokens=answer.tokens, capped=answer.capped)


def choice_answer(
    seed: bytes, index: int, answer: Answer, last_user: str, cap: int | None
) -> Answer:
    """Choice ``index``'s text answer (choice 0 is the request's own answer)."""
    if index == 0:
        return answer
    sub = hashlib.blake2b(seed + b"choice" + index.to_bytes(2, "big"), digest_size=16).digest()
    return make_answer(sub, last_user, cap)


def plan_outputs(
    *,
    seed: bytes,
    answer: Answer,
    last_user_text: str,
    max_tokens: int | None,
    tool: ToolSpec | None,
    json_mode: bool,
    schema: JSONObj | None,
    n: int = 1,
) -> list[Output]:
    """The outputs of ``n`` choices."""
    outs: list[Output] = []
    for i in range(n):
        if tool is not None:
            outs.append(tool_output(tool, seed, i))
            continue
        ans = choice_answer(seed, i, answer, last_user_text, max_tokens)
        outs.append(json_output(ans, schema, max_tokens) if json_mode else text_output(ans))
    return outs


def request_outputs(
    prep: Prepared,
    answer: Answer,
    tools: tuple[list[ToolSpec], str, str | None],
    *,
    after_tool_result: bool,
    json_mode: bool,
    schema: JSONObj | None,
    n: int = 1,
) -> list[Output]:
    """The outputs of a prepared request: a call of the tool its ``tools`` setup (the tools,
    the tool-choice mode, the forced tool) picks, else text or JSON text."""
    listed, mode, forced = tools
    return plan_outputs(
        seed=prep.seed,
        answer=answer,
        last_user_text=prep.last_user_text,
        max_tokens=prep.max_tokens,
        tool=choose_tool(listed, mode, forced, prep.last_user_text, after_tool_result),
        json_mode=json_mode,
        schema=schema,
        n=n,
    )
