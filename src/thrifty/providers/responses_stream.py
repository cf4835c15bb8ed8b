"""Following an OpenAI Responses API stream (``POST /v1/responses`` with ``stream: true``).

The stream is a sequence of named events (``event: response.created`` ...), each a JSON
object whose ``type`` repeats the name.  It ends with exactly one terminal event:
``response.completed`` or ``response.incomplete`` (the answer, complete or capped, with
``response.usage``), or ``response.failed`` (the upstream gave up; its ``response.error``
says why).  An ``error`` event reports a failure outside a response.  There is no
``[DONE]`` sentinel.

Every event is passed through unchanged; text and argument deltas (``*.delta``) are not
parsed at all, only tallied for an estimate of the output should the stream be cut before
its terminal event (see :mod:`thrifty.providers.estimate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from thrifty.errors import ThriftyError
from thrifty.providers.estimate import DeltaTally
from thrifty.providers.finish import responses_cut
from thrifty.providers.usage import responses_server_tools, service_tier, usage_from_responses
from thrifty.types import JSON, ChatResponse, StreamEvent

if TYPE_CHECKING:
    from thrifty.providers.base import BaseProvider

__all__ = ["TERMINAL_EVENTS", "ResponsesStream"]

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Events that carry the response object (its model, tier, and at the end its usage).
_RESPONSE_EVENTS = TERMINAL_EVENTS | {"response.created", "response.in_progress"}


class ResponsesStream:
    """The :class:`~thrifty.providers.base.StreamHandler` of a Responses API stream."""

    __slots__ = (
        "_deltas",
        "_prompt",
        "_provider",
        "_response",
        "_settled",
        "_usage_seen",
        "complete",
    )
    strip_fragment: bytes | None = None

    def __init__(self, provider: BaseProvider, response: ChatResponse, prompt: JSON) -> None:
        self.complete = False
        self._provider = provider
        self._response = response
        self._prompt = prompt  # the request body, for an estimate if usage never comes
        self._usage_seen = False
        self._deltas = DeltaTally()
        self._settled = False

    def on_event(self, event: StreamEvent) -> tuple[StreamEvent, ...]:
        name = event.event
        if name is not None and name.endswith(".delta"):
            self._deltas.add(event)  # a text or argument delta: passed through unparsed
            return (event,)
        data = event.data
        if data is None:  # a [DONE] some compatible servers add: nothing to read
            return (event,)
        kind = data.get("type", name)
        if kind == "error":
            raise self._error(data.get("code"), data.get("message"))
        if isinstance(kind, str) and kind.endswith(".delta"):
            self._deltas.add(event)  # a server that names no events: parsed after all
        elif kind in _RESPONSE_EVENTS:
            self._read_response(data.get("response"))
            if kind == "response.failed":
                # Booked as a failure (with the usage it reports), never as an answer: the
                # app gets an error event instead.
                failed = data.get("response")
                error = failed.get("error") if isinstance(failed, Mapping) else None
                error = error if isinstance(error, Mapping) else {}
                raise self._error(error.get("code"), error.get("message"))
            if kind in TERMINAL_EVENTS:
                self._response.truncated = responses_cut(data.get("response"))
                self.complete = True
                self._response.stream_complete = True
        return (event,)

    def _read_response(self, body: Any) -> None:
        if not isinstance(body, Mapping):
            return
        response = self._response
        model = body.get("model")
        if isinstance(model, str) and model:
            response.model = model
        tier = body.get("service_tier")
        if tier is not None:
            response.service_tier = service_tier(tier)
        usage = body.get("usage")
        if isinstance(usage, Mapping):
            response.usage = usage_from_responses(usage)
            response.usage_reported = True
            self._usage_seen = True
            response.server_tools = responses_server_tools(body.get("output"))

    def _error(self, code: Any, message: Any) -> ThriftyError:
        error = {"type": code if isinstance(code, str) else "error", "message": message or ""}
        return self._provider.stream_error({"error": error})

    def settle(self) -> None:
        """Without a terminal event's usage, book an estimate: the prompt from the request
        text, the output from the deltas seen.  A stream that ended with its terminal
        event but no usage stays unreported: nothing was cut, the server does not count."""
        if self._settled:
            return
        self._settled = True
        if self._usage_seen or self.complete:
            return
        self._deltas.book(self._response, self._prompt)
