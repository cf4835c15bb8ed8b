"""Lever warnings that survive a failed call.

A stage that sends a request on with a warning (a malformed conversation passed through
unchanged, a stop field sent as written) puts the warning on the answer as a header; when
the call fails instead, :func:`call_warned` hands it on with the exception, and the
gateway adds it to the error answer (:func:`thrifty.gateway.wire_errors.error_headers`).
"""

from __future__ import annotations

from thrifty.types import ChatRequest, ChatResponse, Handler


def attach_warning(exc: BaseException, name: str, value: str) -> None:
    """A stage that sent a request on with a warning (a malformed conversation passed
    through unchanged) hands it on with the exception when the call fails, so the app's
    error answer still carries it (``x-thrifty-NAME``); the first stage to attach a name
    keeps it."""
    found = getattr(exc, "lever_warnings", None)
    if not isinstance(found, dict):
        found = {}
        exc.lever_warnings = found  # type: ignore[attr-defined]
    found.setdefault(name, value)


def warnings_of(exc: BaseException) -> dict[str, str]:
    """The warnings stages attached to ``exc`` (:func:`attach_warning`)."""
    found = getattr(exc, "lever_warnings", None)
    return dict(found) if isinstance(found, dict) else {}


async def call_warned(inner: Handler, request: ChatRequest, name: str, value: str) -> ChatResponse:
    """``inner(request)`` with the warning ``name: value`` on its answer, or on its
    exception (:func:`attach_warning`) if the call fails."""
    try:
        response = await inner(request)
    except BaseException as exc:
        attach_warning(exc, name, value)
        raise
    response.headers[name] = value
    return response
