"""One server-sent event of a streamed answer, as received from (or sent in) the app's
wire dialect: its bytes, and its JSON parsed only when first read."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class MalformedEvent(ValueError):
    """A streamed event's data is not a JSON object (nor OpenAI's ``[DONE]``)."""


_DONE = b"[DONE]"
_new_object = object.__new__


class StreamEvent:
    """One server-sent event, as received from (or sent in) the wire dialect.

    ``raw`` is the exact bytes of the event, ``b"event: ...\\ndata: ...\\n\\n"``, so a
    pass-through costs no re-serialisation.  ``data`` is the parsed JSON payload, or
    ``None`` for OpenAI's ``[DONE]`` sentinel.  Events read off the wire
    (:meth:`from_wire`) parse their payload only when ``data`` is first read: most
    pass-through events (text deltas) are never parsed at all.  Reading ``data`` of a
    payload that is not a JSON object raises :class:`MalformedEvent`.
    """

    __slots__ = ("_data", "_payload", "event", "raw")

    def __init__(self, event: str | None, data: JSON | None, raw: bytes) -> None:
        self.event = event
        self.raw = raw
        self._data: JSON | None = data
        self._payload: bytes | None = None

    @classmethod
    def from_wire(cls, event: str | None, payload: bytes, raw: bytes) -> StreamEvent:
        # Its slots set here rather than through ``__init__``: a read's events are made
        # by the dozen on a stream's hot path, and the second call was half their cost.
        made = _new_object(cls)
        made.event = event
        made.raw = raw
        made._data = None
        made._payload = payload
        return made

    @property
    def data(self) -> JSON | None:
        payload = self._payload
        if payload is not None:
            self._payload = None
            if payload != _DONE:
                self._data = _parse_payload(payload)
        return self._data

    def without(self, fragment: bytes) -> StreamEvent:
        """This event with the first ``fragment`` of its JSON text removed, in the raw
        bytes and the payload alike (for byte-level edits on the pass-through path, such as
        dropping a key).  An event already parsed is re-parsed from the edited bytes."""
        raw = self.raw.replace(fragment, b"", 1)
        if raw is self.raw or raw == self.raw:
            return self
        if self._payload is not None:
            return StreamEvent.from_wire(self.event, self._payload.replace(fragment, b"", 1), raw)
        start = raw.index(b"data:") + 5
        payload = raw[start:].strip()
        return StreamEvent.from_wire(self.event, payload, raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamEvent):
            return NotImplemented
        return (self.event, self.raw, self.data) == (other.event, other.raw, other.data)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StreamEvent(event={self.event!r}, raw={self.raw!r})"


def _parse_payload(payload: bytes) -> JSON:
    import orjson

    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"upstream sent an event whose data is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise MalformedEvent("upstream sent an event whose data is not a JSON object")
    return parsed
