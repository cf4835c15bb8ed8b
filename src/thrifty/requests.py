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


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


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
        raise BadRequest("'model' must be a non-empty string")
    if len(name) > MAX_MODEL_CHARS:
        raise BadRequest(f"'model' is {len(name)} characters long; the limit is {MAX_MODEL_CHARS}")
    raise BadRequest("'model' must be printable ASCII without spaces or control characters")


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


def _openai_content(index: int, content: Any) -> None:
    if content is None or isinstance(content, str):
        return
    _expect(isinstance(content, list), f"messages[{index}].content must be a string or an array")
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in OPENAI_PART_TYPES:
            raise BadRequest(
                f"messages[{index}].content[{number}].type must be one of "
                f"{', '.join(sorted(OPENAI_PART_TYPES))}"
            )


def _anthropic_content(index: int, content: Any) -> None:
    if isinstance(content, str):
        return
    _expect(isinstance(content, list), f"messages[{index}].content must be a string or an array")
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
            f"({', '.join(sorted(ANTHROPIC_BLOCK_TYPES))} or a server tool's block)"
        )


def _check_messages(dialect: Dialect, messages: list[Any]) -> None:
    roles = ANTHROPIC_ROLES if dialect == "anthropic" else OPENAI_ROLES
    content_check = _anthropic_content if dialect == "anthropic" else _openai_content
    for index, message in enumerate(messages):
        _expect(isinstance(message, dict), f"messages[{index}] must be an object")
        role = message.get("role")
        _expect(isinstance(role, str), f"messages[{index}].role must be a string")
        if role not in roles:
            raise BadRequest(
                f"messages[{index}].role must be one of {', '.join(sorted(roles))}; "
                f"got {_short(role)!r}"
            )
        content_check(index, message.get("content"))


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[:MAX_LABEL_CHARS] + "..."


def validate_body(dialect: Dialect, raw: Any) -> JSON:
    _expect(isinstance(raw, dict), "request body must be a JSON object")
    body: JSON = raw
    model = body.get("model")
    _expect(model is not None, "missing required field 'model'")
    if not isinstance(model, str) or model == "":
        raise BadRequest("'model' must be a non-empty string")
    check_model_name(model)
    messages = body.get("messages")
    _expect(messages is not None, "missing required field 'messages'")
    if not isinstance(messages, list):
        raise BadRequest("'messages' must be an array")
    _expect(len(messages) > 0, "'messages' must not be empty")
    _check_messages(dialect, messages)
    stream = body.get("stream", False)
    _expect(stream is None or isinstance(stream, bool), "'stream' must be a boolean")
    if dialect == "anthropic":
        max_tokens = body.get("max_tokens")
        _expect(max_tokens is not None, "missing required field 'max_tokens'")
        _expect(
            isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0,
            "'max_tokens' must be a positive integer",
        )
    else:
        for field in ("max_tokens", "max_completion_tokens", "n"):
            value = body.get(field)
            _expect(
                value is None or (isinstance(value, int) and not isinstance(value, bool)),
                f"'{field}' must be an integer",
            )
            _expect(value is None or value > 0, f"'{field}' must be a positive integer")
    return body


def pop_task(body: JSON) -> tuple[JSON, str | None]:
    """Take ``metadata.thrifty_task`` out of the body (providers would reject it)."""
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or TASK_METADATA_KEY not in metadata:
        return body, None
    task = metadata[TASK_METADATA_KEY]
    _expect(isinstance(task, str), f"metadata.{TASK_METADATA_KEY} must be a string")
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
