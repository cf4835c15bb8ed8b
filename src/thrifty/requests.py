"""Turn a wire body (OpenAI chat completions or Anthropic messages) into a ChatRequest,
with clear errors for malformed input.

The checks are local and cheap (they run on every call): a typo in a role, a content part
type or ``max_tokens`` is a 400 in the endpoint's dialect here, not a paid upstream error.
Model names are printable ASCII of at most :data:`MAX_MODEL_CHARS` characters (they go into
response headers and the ledger); task and tenant labels match :data:`LABEL_PATTERN`.
"""

from __future__ import annotations

import re
from typing import Any

from thrifty.errors import BadRequest
from thrifty.types import JSON, ChatRequest, Dialect

TASK_METADATA_KEY = "thrifty_task"
MAX_MODEL_CHARS = 256
MAX_LABEL_CHARS = 64
# Task and tenant names: short, and safe to store, log and show in a report.
LABEL_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# Request headers that steer levers for one request, and the ``ChatRequest.metadata`` key
# each becomes.  Values are printable ASCII without spaces, at most MAX_CONTROL_CHARS.
CONTROL_HEADERS: dict[bytes, str] = {
    b"x-thrifty-cache": "cache",  # bypass | refresh (the exact and semantic caches)
    b"idempotency-key": "idempotency_key",
    b"x-thrifty-debounce": "debounce_key",
    b"x-thrifty-conversation": "conversation",  # a conversation the gateway keeps
}
MAX_CONTROL_CHARS = 256
# Headers with a tighter limit than MAX_CONTROL_CHARS.
CONTROL_LIMITS: dict[str, int] = {"x-thrifty-conversation": 128}

OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
OPENAI_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
ANTHROPIC_ROLES = frozenset({"user", "assistant"})
# Anthropic adds server-tool block types often: the known ones, plus any ``*_tool_use`` /
# ``*_tool_result`` name.
ANTHROPIC_BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "search_result",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "container_upload",
    }
)


def expect(condition: bool, message: str, param: str | None, code: str = "invalid_value") -> None:
    """A 400 naming the field at fault (``param``) with OpenAI's ``code`` for the fault
    (see :class:`~thrifty.errors.BadRequest`) unless ``condition`` holds."""
    if not condition:
        raise BadRequest(message, param=param, provider_code=code)


def valid_model_name(name: object) -> bool:
    """A non-empty string of printable ASCII without spaces, at most MAX_MODEL_CHARS."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_MODEL_CHARS
        and name.isascii()
        and name.isprintable()
        and " " not in name
    )


def check_model_name(name: str) -> None:
    if valid_model_name(name):
        return
    if name == "":
        raise BadRequest(
            "'model' must be a non-empty string", param="model", provider_code="invalid_value"
        )
    if len(name) > MAX_MODEL_CHARS:
        raise BadRequest(
            f"'model' is {len(name)} characters long; the limit is {MAX_MODEL_CHARS}",
            param="model",
            provider_code="string_above_max_length",
        )
    raise BadRequest(
        "'model' must be printable ASCII without spaces or control characters",
        param="model",
        provider_code="invalid_value",
    )


def check_control(header: str, value: str) -> None:
    """A lever control header's value (see :data:`CONTROL_HEADERS`)."""
    limit = CONTROL_LIMITS.get(header, MAX_CONTROL_CHARS)
    if not valid_model_name(value) or len(value) > limit:
        raise BadRequest(
            f"the {header} header must be 1 to {limit} printable ASCII characters without spaces"
        )


def check_label(what: str, value: str) -> None:
    """Task and tenant names (headers or ``metadata.thrifty_task``)."""
    if LABEL_PATTERN.fullmatch(value) is None:
        raise BadRequest(f"{what} must be 1 to {MAX_LABEL_CHARS} characters of A-Z a-z 0-9 . _ : -")


def _wrong_type(param: str, what: str) -> BadRequest:
    return BadRequest(f"{param} must be {what}", param=param, provider_code="invalid_type")


def _openai_content(index: int, content: Any) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong_type(f"messages[{index}].content", "a string or an array")
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in OPENAI_PART_TYPES:
            raise BadRequest(
                f"messages[{index}].content[{number}].type must be one of "
                f"{', '.join(sorted(OPENAI_PART_TYPES))}",
                param=f"messages[{index}].content[{number}].type",
                provider_code="invalid_value",
            )


def _anthropic_content(index: int, content: Any) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong_type(f"messages[{index}].content", "a string or an array")
    for number, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in ANTHROPIC_BLOCK_TYPES or (
            isinstance(kind, str)
            and kind.endswith(("_tool_use", "_tool_result"))
            and len(kind) <= MAX_LABEL_CHARS
        ):
            continue
        raise BadRequest(
            f"messages[{index}].content[{number}].type must be a content block type "
            f"({', '.join(sorted(ANTHROPIC_BLOCK_TYPES))} or a server tool's block)",
            param=f"messages[{index}].content[{number}].type",
            provider_code="invalid_value",
        )


def _check_messages(dialect: Dialect, messages: list[Any]) -> None:
    roles = ANTHROPIC_ROLES if dialect == "anthropic" else OPENAI_ROLES
    content_check = _anthropic_content if dialect == "anthropic" else _openai_content
    for index, message in enumerate(messages):
        # The messages are built only on failure: this loop runs on every message.
        if not isinstance(message, dict):
            raise _wrong_type(f"messages[{index}]", "an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise _wrong_type(f"messages[{index}].role", "a string")
        if role not in roles:
            raise BadRequest(
                f"messages[{index}].role must be one of {', '.join(sorted(roles))}; "
                f"got {_short(role)!r}",
                param=f"messages[{index}].role",
                provider_code="invalid_value",
            )
        content_check(index, message.get("content"))


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[:MAX_LABEL_CHARS] + "..."


def validate_body(dialect: Dialect, raw: Any) -> JSON:
    expect(isinstance(raw, dict), "request body must be a JSON object", None, "invalid_type")
    body: JSON = raw
    check_model_field(body)
    messages = body.get("messages")
    expect(
        messages is not None,
        "missing required field 'messages'",
        "messages",
        "missing_required_parameter",
    )
    if not isinstance(messages, list):
        raise BadRequest(
            "'messages' must be an array", param="messages", provider_code="invalid_type"
        )
    expect(len(messages) > 0, "'messages' must not be empty", "messages", "empty_array")
    _check_messages(dialect, messages)
    check_stream_field(body)
    if dialect == "anthropic":
        max_tokens = body.get("max_tokens")
        expect(
            max_tokens is not None,
            "missing required field 'max_tokens'",
            "max_tokens",
            "missing_required_parameter",
        )
        check_positive_int(body, "max_tokens")
    else:
        for field in ("max_tokens", "max_completion_tokens", "n"):
            check_positive_int(body, field)
    return body


def check_model_field(body: JSON) -> None:
    """``model``: present, a string, and a name thrifty can echo (:func:`check_model_name`)."""
    model = body.get("model")
    expect(
        model is not None, "missing required field 'model'", "model", "missing_required_parameter"
    )
    if not isinstance(model, str):
        raise BadRequest(
            "'model' must be a non-empty string", param="model", provider_code="invalid_type"
        )
    check_model_name(model)


def check_stream_field(body: JSON) -> None:
    stream = body.get("stream", False)
    expect(
        stream is None or isinstance(stream, bool),
        "'stream' must be a boolean",
        "stream",
        "invalid_type",
    )


def check_positive_int(body: JSON, field: str) -> None:
    """``body[field]``, when given, is a positive integer (``true`` is not an integer)."""
    value = body.get(field)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"'{field}' must be an integer", param=field, provider_code="invalid_type")
    if value <= 0:
        raise BadRequest(
            f"'{field}' must be a positive integer",
            param=field,
            provider_code="integer_below_min_value",
        )


def pop_task(body: JSON) -> tuple[JSON, str | None]:
    """Take ``metadata.thrifty_task`` out of the body (providers would reject it)."""
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or TASK_METADATA_KEY not in metadata:
        return body, None
    task = metadata[TASK_METADATA_KEY]
    expect(
        isinstance(task, str),
        f"metadata.{TASK_METADATA_KEY} must be a string",
        f"metadata.{TASK_METADATA_KEY}",
        "invalid_type",
    )
    check_label(f"metadata.{TASK_METADATA_KEY}", task)
    rest = {k: v for k, v in metadata.items() if k != TASK_METADATA_KEY}
    body = dict(body)
    if rest:
        body["metadata"] = rest
    else:
        del body["metadata"]
    return body, task


def chat_request(
    dialect: Dialect,
    body: Any,
    *,
    task: str | None = None,
    tenant: str | None = None,
    endpoint: str = "library",
) -> ChatRequest:
    """Validate ``body`` and build the request.  A task given explicitly (header) wins over
    ``metadata.thrifty_task`` in the body."""
    valid = validate_body(dialect, body)
    valid, body_task = pop_task(valid)
    model = valid["model"]
    return ChatRequest(
        dialect=dialect,
        body=valid,
        model=model,
        requested_model=model,
        stream=bool(valid.get("stream", False)),
        task=task or body_task,
        tenant=tenant,
        endpoint=endpoint,
    )
