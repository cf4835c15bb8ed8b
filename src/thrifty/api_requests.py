"""Turn a wire body of one of OpenAI's other API operations (the Responses API, embeddings,
legacy text completions) into a :class:`~thrifty.types.ChatRequest`, with clear 400s that
name the field, in the style of :mod:`thrifty.requests` (chat bodies).

The checks are local and cheap: a missing ``input``, a prompt of the wrong type or an
empty list is a 400 here, not a paid upstream error.  Fields thrifty does not read are
passed through untouched (the upstream judges them).
"""

from __future__ import annotations

from typing import Any

from thrifty.errors import BadRequest
from thrifty.requests import MAX_LABEL_CHARS, chat_request, check_model_name, pop_task
from thrifty.types import JSON, Api, ChatRequest, Dialect

__all__ = ["MAX_EMBEDDING_INPUTS", "api_request", "validate_api_body"]

# OpenAI's limit on the number of inputs of one embeddings request.
MAX_EMBEDDING_INPUTS = 2048


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(body: JSON, field: str) -> None:
    value = body.get(field)
    if value is None:
        return
    _expect(_is_int(value), f"'{field}' must be an integer")
    _expect(value > 0, f"'{field}' must be a positive integer")


def _token_list(value: Any) -> bool:
    """A non-empty list of token ids (non-negative integers)."""
    return isinstance(value, list) and len(value) > 0 and all(_is_int(t) and t >= 0 for t in value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_text_or_tokens(field: str, value: Any, *, allow_empty_text: bool) -> int:
    """``value`` is a string, a list of strings, a list of token ids or a list of token-id
    lists (the shapes ``input`` of embeddings and ``prompt`` of completions take); return
    the number of items."""
    if isinstance(value, str):
        _expect(allow_empty_text or value != "", f"'{field}' must not be an empty string")
        return 1
    _expect(
        isinstance(value, list),
        f"'{field}' must be a string, an array of strings, an array of token ids or an array "
        f"of token-id arrays; got {_kind(value)}",
    )
    _expect(len(value) > 0, f"'{field}' must not be an empty array")
    if _token_list(value):
        return 1
    for index, item in enumerate(value):
        if isinstance(item, str):
            _expect(allow_empty_text or item != "", f"'{field}[{index}]' must not be empty")
            continue
        _expect(
            _token_list(item),
            f"'{field}[{index}]' must be a string or a non-empty array of token ids; "
            f"got {_kind(item)}",
        )
    return len(value)


def _check_stream(body: JSON) -> None:
    stream = body.get("stream", False)
    _expect(stream is None or isinstance(stream, bool), "'stream' must be a boolean")


def _check_responses(body: JSON) -> None:
    _expect("input" in body, "missing required field 'input'")
    value = body["input"]
    if isinstance(value, str):
        _expect(value != "", "'input' must not be an empty string")
    else:
        _expect(
            isinstance(value, list),
            f"'input' must be a string or an array of input items; got {_kind(value)}",
        )
        _expect(len(value) > 0, "'input' must not be an empty array")
        for index, item in enumerate(value):
            _expect(isinstance(item, dict), f"'input[{index}]' must be an object")
            kind = item.get("type", "message")
            _expect(
                isinstance(kind, str) and 0 < len(kind) <= MAX_LABEL_CHARS,
                f"'input[{index}].type' must be a short string",
            )
    instructions = body.get("instructions")
    _expect(
        instructions is None or isinstance(instructions, str),
        "'instructions' must be a string",
    )
    tools = body.get("tools")
    _expect(tools is None or isinstance(tools, list), "'tools' must be an array")
    _positive_int(body, "max_output_tokens")
    _check_stream(body)


def _check_embeddings(body: JSON) -> None:
    _expect("input" in body, "missing required field 'input'")
    count = _check_text_or_tokens("input", body["input"], allow_empty_text=False)
    _expect(
        count <= MAX_EMBEDDING_INPUTS,
        f"'input' has {count} items; the limit is {MAX_EMBEDDING_INPUTS}",
    )
    fmt = body.get("encoding_format")
    _expect(
        fmt is None or fmt in ("float", "base64"),
        "'encoding_format' must be 'float' or 'base64'",
    )
    _positive_int(body, "dimensions")
    _expect(body.get("stream") in (None, False), "embeddings do not stream: drop 'stream'")


def _check_completions(body: JSON) -> None:
    _expect("prompt" in body, "missing required field 'prompt'")
    _check_text_or_tokens("prompt", body["prompt"], allow_empty_text=True)
    for field in ("n", "best_of"):
        _positive_int(body, field)
    max_tokens = body.get("max_tokens")
    _expect(
        max_tokens is None or (_is_int(max_tokens) and max_tokens >= 0),
        "'max_tokens' must be a non-negative integer",
    )
    _check_stream(body)


_CHECKS = {
    "responses": _check_responses,
    "embeddings": _check_embeddings,
    "completions": _check_completions,
}


def validate_api_body(api: Api, raw: Any) -> JSON:
    """``raw`` checked as a body of ``api`` (not ``"chat"``); raises :class:`BadRequest`."""
    _expect(isinstance(raw, dict), "request body must be a JSON object")
    body: JSON = raw
    model = body.get("model")
    _expect(model is not None, "missing required field 'model'")
    if not isinstance(model, str):
        raise BadRequest("'model' must be a non-empty string")
    check_model_name(model)
    _CHECKS[api](body)
    return body


def api_request(
    api: Api,
    body: Any,
    *,
    dialect: Dialect = "openai",
    task: str | None = None,
    tenant: str | None = None,
    endpoint: str = "library",
) -> ChatRequest:
    """Validate ``body`` as a request of ``api`` and build the :class:`ChatRequest`.
    ``"chat"`` goes to :func:`thrifty.requests.chat_request` (either dialect); the other
    operations exist in the OpenAI dialect only.  A task given explicitly (header) wins
    over ``metadata.thrifty_task`` in the body."""
    if api == "chat":
        return chat_request(dialect, body, task=task, tenant=tenant, endpoint=endpoint)
    if dialect != "openai":
        raise BadRequest(f"the {api} API is OpenAI's; it has no {dialect} form")
    valid = validate_api_body(api, body)
    valid, body_task = pop_task(valid)
    model = valid["model"]
    return ChatRequest(
        dialect="openai",
        body=valid,
        model=model,
        requested_model=model,
        stream=bool(valid.get("stream", False)),
        api=api,
        task=task or body_task,
        tenant=tenant,
        endpoint=endpoint,
    )
