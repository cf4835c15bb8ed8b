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
from thrifty.requests import (
    MAX_LABEL_CHARS,
    chat_request,
    check_model_field,
    check_positive_int,
    check_stream_field,
    expect,
    pop_task,
)
from thrifty.types import JSON, Api, ChatRequest, Dialect

__all__ = ["MAX_EMBEDDING_INPUTS", "api_request", "validate_api_body"]

# OpenAI's limit on the number of inputs of one embeddings request.
MAX_EMBEDDING_INPUTS = 2048


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_list(value: Any) -> bool:
    """A non-empty list of token ids (non-negative integers)."""
    return isinstance(value, list) and len(value) > 0 and all(_is_int(t) and t >= 0 for t in value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _require(body: JSON, field: str) -> None:
    expect(field in body, f"missing required field '{field}'", field, "missing_required_parameter")


def _check_text_or_tokens(field: str, value: Any, *, allow_empty_text: bool) -> int:
    """``value`` is a string, a list of strings, a list of token ids or a list of token-id
    lists (the shapes ``input`` of embeddings and ``prompt`` of completions take); return
    the number of items."""
    if isinstance(value, str):
        expect(allow_empty_text or value != "", f"'{field}' must not be an empty string", field)
        return 1
    expect(
        isinstance(value, list),
        f"'{field}' must be a string, an array of strings, an array of token ids or an array "
        f"of token-id arrays; got {_kind(value)}",
        field,
        "invalid_type",
    )
    expect(len(value) > 0, f"'{field}' must not be an empty array", field, "empty_array")
    if _token_list(value):
        return 1
    # The messages are built only on failure: this loop runs on every item (2,048 at most).
    for index, item in enumerate(value):
        if isinstance(item, str):
            if not (allow_empty_text or item != ""):
                raise BadRequest(
                    f"'{field}[{index}]' must not be empty",
                    param=f"{field}[{index}]",
                    provider_code="invalid_value",
                )
        elif not _token_list(item):
            raise BadRequest(
                f"'{field}[{index}]' must be a string or a non-empty array of token ids; "
                f"got {_kind(item)}",
                param=f"{field}[{index}]",
                provider_code="invalid_type",
            )
    return len(value)


def _check_responses(body: JSON) -> None:
    _require(body, "input")
    value = body["input"]
    if isinstance(value, str):
        expect(value != "", "'input' must not be an empty string", "input")
    else:
        expect(
            isinstance(value, list),
            f"'input' must be a string or an array of input items; got {_kind(value)}",
            "input",
            "invalid_type",
        )
        expect(len(value) > 0, "'input' must not be an empty array", "input", "empty_array")
        for index, item in enumerate(value):  # the messages built only on failure
            if not isinstance(item, dict):
                raise BadRequest(
                    f"'input[{index}]' must be an object",
                    param=f"input[{index}]",
                    provider_code="invalid_type",
                )
            kind = item.get("type", "message")
            if not (isinstance(kind, str) and 0 < len(kind) <= MAX_LABEL_CHARS):
                raise BadRequest(
                    f"'input[{index}].type' must be a short string",
                    param=f"input[{index}].type",
                    provider_code="invalid_value",
                )
    instructions = body.get("instructions")
    expect(
        instructions is None or isinstance(instructions, str),
        "'instructions' must be a string",
        "instructions",
        "invalid_type",
    )
    tools = body.get("tools")
    expect(
        tools is None or isinstance(tools, list),
        "'tools' must be an array",
        "tools",
        "invalid_type",
    )
    check_positive_int(body, "max_output_tokens")
    check_stream_field(body)


def _check_embeddings(body: JSON) -> None:
    _require(body, "input")
    count = _check_text_or_tokens("input", body["input"], allow_empty_text=False)
    expect(
        count <= MAX_EMBEDDING_INPUTS,
        f"'input' has {count} items; the limit is {MAX_EMBEDDING_INPUTS}",
        "input",
        "array_above_max_length",
    )
    fmt = body.get("encoding_format")
    expect(
        fmt is None or fmt in ("float", "base64"),
        "'encoding_format' must be 'float' or 'base64'",
        "encoding_format",
    )
    check_positive_int(body, "dimensions")
    expect(body.get("stream") in (None, False), "embeddings do not stream: drop 'stream'", "stream")


def _check_completions(body: JSON) -> None:
    _require(body, "prompt")
    _check_text_or_tokens("prompt", body["prompt"], allow_empty_text=True)
    for field in ("n", "best_of"):
        check_positive_int(body, field)
    max_tokens = body.get("max_tokens")
    expect(
        max_tokens is None or _is_int(max_tokens),
        "'max_tokens' must be a non-negative integer",
        "max_tokens",
        "invalid_type",
    )
    expect(
        max_tokens is None or max_tokens >= 0,
        "'max_tokens' must be a non-negative integer",
        "max_tokens",
        "integer_below_min_value",
    )
    check_stream_field(body)


_CHECKS = {
    "responses": _check_responses,
    "embeddings": _check_embeddings,
    "completions": _check_completions,
}


def validate_api_body(api: Api, raw: Any) -> JSON:
    """``raw`` checked as a body of ``api`` (not ``"chat"``); raises :class:`BadRequest`."""
    expect(isinstance(raw, dict), "request body must be a JSON object", None, "invalid_type")
    body: JSON = raw
    check_model_field(body)
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
