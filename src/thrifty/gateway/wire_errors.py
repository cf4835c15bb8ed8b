"""Error bodies in each wire dialect, so an app's SDK raises its usual exception types."""

from __future__ import annotations

import orjson

from thrifty.errors import ThriftyError, UpstreamRateLimited
from thrifty.types import JSON, Dialect


def error_body(dialect: Dialect, exc: ThriftyError) -> JSON:
    if dialect == "anthropic":
        return {"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}}
    return {
        "error": {
            "message": exc.message,
            "type": exc.openai_type,
            "param": None,
            "code": exc.code,
        }
    }


def error_headers(exc: ThriftyError) -> dict[str, str]:
    headers = {"x-thrifty-error": exc.code}
    if isinstance(exc, UpstreamRateLimited) and exc.retry_after_s is not None:
        headers["retry-after"] = str(max(0, round(exc.retry_after_s)))
    return headers


def error_event(dialect: Dialect, exc: ThriftyError) -> bytes:
    """An SSE event telling a streaming client that the stream failed midway."""
    payload = orjson.dumps(error_body(dialect, exc))
    if dialect == "anthropic":
        return b"event: error\ndata: " + payload + b"\n\n"
    return b"data: " + payload + b"\n\n"
