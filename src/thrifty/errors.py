"""Typed errors.  Every error knows its HTTP status and a stable machine-readable code, so
the gateway can answer in either wire dialect without guessing.

Messages never contain secrets: anything built from upstream text goes through
:func:`redact` first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thrifty.types import Usage

_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{6,}"),
    re.compile(r"(?i)(x-api-key[\"':\s=]+)[A-Za-z0-9._\-]{6,}"),
    re.compile(r"(?i)(api[_-]?key[\"':\s=]+)[A-Za-z0-9._\-]{6,}"),
)


def redact(text: str, *secrets: str | None) -> str:
    """Remove API keys from ``text``: the given ``secrets`` verbatim, and anything shaped
    like a provider key."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


class ThriftyError(Exception):
    """Base class.  ``status`` is the HTTP status the gateway answers with."""

    status: int = 500
    code: str = "internal_error"
    # OpenAI error "type" / Anthropic error "type" for this kind of failure.
    openai_type: str = "server_error"
    anthropic_type: str = "api_error"
    # True when the failure came after the request reached the provider, which may have
    # processed (and billed) it: a body cut mid-way, a timeout waiting for the answer, a
    # stream cut.  The ledger books such a failure as an unknown cost, never as $0.
    # Connection refused, DNS and connect timeouts, and error statuses the provider
    # answered with leave it False.
    reached_upstream: bool = False
    upstream_request_id: str | None = None  # the provider's request id, forwarded to the app
    # The provider's own error body (keys scrubbed) and its dialect: an app of the same
    # dialect gets it as is (its `param`, `code` and `type` intact).
    upstream_error: dict[str, Any] | None = None
    upstream_dialect: str | None = None
    # What is known of the failed call when it got that far (a stream cut mid-way): the
    # usage so far (exact where the upstream reported it, else thrifty's estimate) and the
    # model that answered.  ``None`` when unknown.
    usage_estimate: Usage | None = None
    model: str | None = None
    # For a request thrifty refused itself: the field at fault (OpenAI's ``param``, e.g.
    # ``messages[2].role``) and OpenAI's own code for the fault (``missing_required_parameter``,
    # ``invalid_type``, ``invalid_value``, ``empty_array``, ``integer_below_min_value``).
    param: str | None = None
    provider_code: str | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ConfigError(ThriftyError):
    code = "config_error"


class BadRequest(ThriftyError):
    status = 400
    code = "invalid_request"
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"

    def __init__(
        self, message: str, *, param: str | None = None, provider_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.param = param
        self.provider_code = provider_code


class NotFound(ThriftyError):
    status = 404
    code = "not_found"
    openai_type = "invalid_request_error"
    anthropic_type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(ThriftyError):
    status = 413
    code = "request_too_large"
    openai_type = "invalid_request_error"
    anthropic_type = "request_too_large"


class UpstreamError(ThriftyError):
    """The provider answered with an error, or could not be reached.  Keeps the upstream's
    status so apps see what they would have seen without thrifty."""

    status = 502
    code = "upstream_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, provider: str = "") -> None:
        super().__init__(message, status=status)
        self.provider = provider


class UpstreamAuthError(UpstreamError):
    status = 401
    code = "upstream_auth_error"
    openai_type = "authentication_error"
    anthropic_type = "authentication_error"


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "rate_limited"
    openai_type = "rate_limit_error"
    anthropic_type = "rate_limit_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status=status, provider=provider)
        self.retry_after_s = retry_after_s


class UpstreamUnavailable(UpstreamError):
    """5xx from the provider, or the connection failed."""

    status = 502
    code = "upstream_unavailable"
    anthropic_type = "api_error"
    retryable = True


class UpstreamOverloaded(UpstreamUnavailable):
    status = 529
    code = "overloaded"
    anthropic_type = "overloaded_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"
    anthropic_type = "timeout_error"
    retryable = True


class UpstreamBadRequest(UpstreamError):
    """The provider rejected the request (4xx other than auth/rate limit)."""

    status = 400
    code = "upstream_rejected"
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class StreamInterrupted(UpstreamError):
    """The upstream stream ended before its final event."""

    status = 502
    code = "stream_interrupted"
    retryable = True


class Conflict(ThriftyError):
    """The request conflicts with another one (HTTP 409: both SDKs raise ConflictError)."""

    status = 409
    code = "conflict"
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    # The ledger's ``failure`` for a request that ended with this error.
    failure: str = "conflict"


class IdempotencyKeyReused(Conflict):
    """An ``Idempotency-Key`` came again with a different request body."""

    code = "idempotency_key_reused"
    failure = "idempotency_conflict"


class ConversationBusy(Conflict):
    """Another turn of the same kept conversation (``x-thrifty-conversation``) is in
    flight, and this one was refused rather than made to wait (or waited too long)."""

    code = "conversation_busy"
    failure = "conversation_busy"


class Superseded(Conflict):
    """A newer request with the same debounce key replaced this one while it ran; its
    upstream call (if it had started) was cancelled."""

    code = "superseded"
    failure = "superseded"

    def __init__(self, message: str, *, reached_upstream: bool = False) -> None:
        super().__init__(message)
        self.reached_upstream = reached_upstream
