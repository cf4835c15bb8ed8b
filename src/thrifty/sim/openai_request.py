"""What the simulator reads from an OpenAI request body: the chat completions checks (the
400s OpenAI answers), the prompt's token pieces, and the parts the other OpenAI operations
share (tools, response formats, service tiers, the model and a required field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from thrifty.sim.dialect import BadRequest, JSONObj
from thrifty.sim.message_rules import check_openai_stop, check_openai_tool_messages
from thrifty.sim.output import ToolSpec
from thrifty.sim.tokens import TokenMemo

PRIMING_TOKENS = 3  # "<|start|>assistant<|message|>" after the last message
# Request ``service_tier`` values OpenAI accepts, and the tier a response then reports
# ("auto" runs on the project's default tier).
SERVICE_TIERS = {
    "auto": "default",
    "default": "default",
    "flex": "flex",
    "scale": "scale",
    "priority": "priority",
}
# The chat-completions search models search the web before every answer.
_SEARCH_MARKERS = ("-search-preview", "-search-api")
BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


@dataclass(frozen=True, slots=True)
class ChatBody:
    """A chat completions body that passed :func:`check_chat_body`."""

    model: str
    messages: list[JSONObj]
    max_tokens: int | None


def is_search_model(model: str) -> bool:
    """``gpt-4o-search-preview``, ``gpt-4o-mini-search-preview``, ``gpt-5-search-api``..."""
    return any(marker in model for marker in _SEARCH_MARKERS)


def response_tier(body: JSONObj) -> str:
    """The ``service_tier`` a response reports for a (validated) request body."""
    return SERVICE_TIERS[str(body.get("service_tier") or "auto")]


def content_text(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:
                    texts.append(f"[{part.get('type', 'part')}]")
        return "\n".join(texts)
    return ""


def output_cap(value: object, param: str, minimum: int) -> int | None:
    """A checked cap on the answer's tokens (``None``: no cap), reported as ``param``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise BadRequest(
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {value!r} instead.",
        param=param,
        code="integer_below_min_value",
    )


def check_chat_body(body: JSONObj) -> ChatBody:
    """The 400s OpenAI answers a chat completions body with; the fields that passed."""
    model = body.get("model")
    if not model or not isinstance(model, str):
        raise BadRequest("you must provide a model parameter")
    messages = body.get("messages")
    if messages is None:
        raise BadRequest(
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadRequest(
            "Invalid type for 'messages': expected an array of objects.",
            param="messages",
            code="invalid_type",
        )
    if not messages:
        raise BadRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    check_openai_tool_messages(messages)
    cap = output_cap(body.get("max_completion_tokens", body.get("max_tokens")), "max_tokens", 1)
    check_openai_stop(body)
    tier = body.get("service_tier")
    if tier is not None and tier not in SERVICE_TIERS:
        raise BadRequest(
            f"Invalid value: {tier!r}. Supported values are: "
            + ", ".join(repr(t) for t in SERVICE_TIERS)
            + ".",
            param="service_tier",
            code="invalid_value",
        )
    if body.get("web_search_options") is not None and not is_search_model(model):
        raise BadRequest(
            "web_search_options is only supported by the search models "
            "(gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api).",
            param="web_search_options",
            code="unsupported_parameter",
        )
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128):
        raise BadRequest(
            f"Invalid 'n': expected an integer between 1 and 128, but got {n!r} instead.",
            param="n",
            code="invalid_value",
        )
    tools, mode, forced = tool_setup(body)
    if mode == "tool" and all(t.name != forced for t in tools):
        raise BadRequest(
            f"Invalid value for 'tool_choice': tool {forced!r} is not in 'tools'.",
            param="tool_choice",
            code="invalid_value",
        )
    if mode == "any" and not tools:
        raise BadRequest(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
            "are specified.",
            param="tool_choice",
            code="invalid_value",
        )
    return ChatBody(model=model, messages=messages, max_tokens=cap)


def model_and_required(body: JSONObj, field: str) -> tuple[str, Any]:
    """A body's ``model`` and the value of its required ``field``, with the 400s OpenAI
    answers when either is missing."""
    model = body.get("model")
    if not model or not isinstance(model, str):
        raise BadRequest("you must provide a model parameter")
    if field not in body:
        raise BadRequest(
            f"Missing required parameter: '{field}'.",
            param=field,
            code="missing_required_parameter",
        )
    return model, body[field]


def prompt_pieces(body: JSONObj, memo: TokenMemo) -> list[str]:
    """Token pieces of the prompt in the order the model reads it: tools, then messages
    (each framed by start/role/end tokens)."""
    pieces: list[str] = []
    tools = body.get("tools")
    if tools:
        pieces.extend(memo.pieces(orjson.dumps(tools).decode()))
    for message in body["messages"]:
        pieces.append("<|start|>")
        pieces.append(str(message.get("role", "user")))
        pieces.extend(memo.pieces(content_text(message.get("content"))))
        tool_calls = message.get("tool_calls")
        if tool_calls:
            pieces.extend(memo.pieces(orjson.dumps(tool_calls).decode()))
        pieces.append("<|end|>")
    return pieces


def tool_setup(body: JSONObj) -> tuple[list[ToolSpec], str, str | None]:
    """Function tools (chat completions or Responses shape) and the tool-choice mode."""
    tools: list[ToolSpec] = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        fn: JSONObj = tool["function"] if isinstance(tool.get("function"), dict) else tool
        name = fn.get("name")
        if isinstance(name, str) and name:
            params = fn.get("parameters")
            tools.append(ToolSpec(name, params if isinstance(params, dict) else {}))
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        fn = choice["function"] if isinstance(choice.get("function"), dict) else choice
        name = fn.get("name")
        if choice.get("type") == "function" and isinstance(name, str):
            return tools, "tool", name
        return tools, "auto", None
    return tools, {"required": "any", "none": "none"}.get(str(choice), "auto"), None


def json_setup(fmt: object) -> tuple[bool, JSONObj | None]:
    """``response_format`` (or the Responses API's ``text.format``): JSON mode and schema."""
    if not isinstance(fmt, dict):
        return False, None
    if fmt.get("type") == "json_object":
        return True, None
    if fmt.get("type") == "json_schema":
        inner: JSONObj = fmt["json_schema"] if isinstance(fmt.get("json_schema"), dict) else fmt
        schema = inner.get("schema")
        return True, schema if isinstance(schema, dict) else {}
    return False, None
