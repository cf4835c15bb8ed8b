"""Turn a wire body (OpenAI chat completions or Anthropic messages) into a ChatRequest,
with clear errors for malformed input."""

from __future__ import annotations

from typing import Any

from thrifty.errors import BadRequest
from thrifty.types import JSON, ChatRequest, Dialect

TASK_METADATA_KEY = "thrifty_task"


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


def validate_body(dialect: Dialect, raw: Any) -> JSON:
    _expect(isinstance(raw, dict), "request body must be a JSON object")
    body: JSON = raw
    model = body.get("model")
    _expect(model is not None, "missing required field 'model'")
    _expect(isinstance(model, str) and model != "", "'model' must be a non-empty string")
    messages = body.get("messages")
    _expect(messages is not None, "missing required field 'messages'")
    if not isinstance(messages, list):
        raise BadRequest("'messages' must be an array")
    _expect(len(messages) > 0, "'messages' must not be empty")
    for index, message in enumerate(messages):
        _expect(isinstance(message, dict), f"messages[{index}] must be an object")
        role = message.get("role")
        _expect(isinstance(role, str), f"messages[{index}].role must be a string")
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
    return body


def _pop_task(body: JSON) -> tuple[JSON, str | None]:
    """Take ``metadata.thrifty_task`` out of the body (providers would reject it)."""
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or TASK_METADATA_KEY not in metadata:
        return body, None
    task = metadata[TASK_METADATA_KEY]
    _expect(isinstance(task, str), f"metadata.{TASK_METADATA_KEY} must be a string")
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
    valid, body_task = _pop_task(valid)
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
