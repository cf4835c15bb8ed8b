"""Error bodies in each wire dialect, so an app's SDK raises its usual exception types."""

from __future__ import annotations

import orjson

from thrifty.errors import ThriftyError, UpstreamError, UpstreamRateLimited
from thrifty.ledger.row import MAX_TEXT, clip
from thrifty.lever_warnings import warnings_of
from thrifty.types import JSON, Api, Dialect

# Anthropic's documented error type for each HTTP status (docs.anthropic.com, "Errors").
ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _message(exc: ThriftyError) -> str:
    """thrifty's own message, which may quote what the app sent (a field, a type name):
    at most what the ledger keeps of it (an 8 MB value is not echoed back)."""
    return clip(exc.message, MAX_TEXT) or ""


def anthropic_type(exc: ThriftyError) -> str:
    """The Anthropic ``error.type``: the one its status has in Anthropic's API (an upstream
    403 is a ``permission_error`` whatever class carried it), else the error's own."""
    if isinstance(exc, UpstreamError):
        return ANTHROPIC_TYPE_BY_STATUS.get(exc.status, exc.anthropic_type)
    return exc.anthropic_type


def error_body(dialect: Dialect, exc: ThriftyError) -> JSON:
    if exc.upstream_error is not None and exc.upstream_dialect == dialect:
        return exc.upstream_error  # the provider's own words, keys scrubbed
    if dialect == "anthropic":
        return {"type": "error", "error": {"type": anthropic_type(exc), "message": _message(exc)}}
    return {
        "error": {
            "message": _message(exc),
            "type": exc.openai_type,
            "param": exc.param,
            "code": exc.provider_code or exc.code,
        }
    }


def error_headers(exc: ThriftyError) -> dict[str, str]:
    # A lever's warning about the request (sent unchanged, and why) stays with its error.
    headers = {f"x-thrifty-{name}": value for name, value in warnings_of(exc).items()}
    headers["x-thrifty-error"] = exc.code
    if isinstance(exc, UpstreamRateLimited) and exc.retry_after_s is not None:
        headers["retry-after"] = str(max(0, round(exc.retry_after_s)))
    return headers


def error_event(dialect: Dialect, exc: ThriftyError, api: Api = "chat") -> bytes:
    """An SSE event telling a streaming client that the stream failed midway.  A Responses
    API stream gets that API's ``error`` event (``type``, ``code``, ``message``, ``param``,
    ``sequence_number``; thrifty does not renumber the upstream's events, so its
    ``sequence_number`` is 0), which the SDKs hand to the app as a ``ResponseErrorEvent``."""
    if api == "responses":
        event = {
            "type": "error",
            "code": exc.provider_code or exc.code,
            "message": _message(exc),
            "param": exc.param,
            "sequence_number": 0,
        }
        return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    payload = orjson.dumps(error_body(dialect, exc))
    if dialect == "anthropic":
        return b"event: error\ndata: " + payload + b"\n\n"
    return b"data: " + payload + b"\n\n"
