"""Incremental server-sent-events parser for upstream response bodies.

Feed it raw body chunks as they arrive (split anywhere, even inside a line ending); it
returns whole events.  Handles ``event:`` and ``data:`` fields, multi-line data, comment
lines (``: ping``), and ``\\n``, ``\\r\\n`` or ``\\r`` line endings.  Each event keeps its
raw bytes (line endings normalised to ``\\n``, terminated by a blank line) so a
pass-through never re-serialises it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from thrifty.types import MalformedEvent, StreamEvent

__all__ = ["ReadMarks", "SSEParser", "read_marks"]


class SSEParser:
    """``strip``: a fragment removed from every complete event before it is parsed (one
    byte-level replace per read instead of one edit per event; an event still arriving is
    edited once it is whole, so a fragment split across reads is removed too)."""

    __slots__ = ("_buf", "_strip")

    def __init__(self, strip: bytes | None = None) -> None:
        self._buf = b""
        self._strip = strip

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        # ``bytes.find`` rather than ``in`` throughout: ``x in some_bytes`` first tries ``x``
        # as an integer and clears the TypeError, about 0.5 µs a test on CPython 3.11,
        # more than the search itself in an event of a few hundred bytes.
        buf = self._buf + chunk if self._buf else chunk
        if buf.find(b"\r") >= 0:
            # A trailing \r may be the first half of \r\n: keep it for the next chunk.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if hold:
                buf += b"\r"
        strip = self._strip
        if buf.endswith(b"\n\n"):
            # The usual read: it ends where an event ends (or on a blank line, which adds
            # nothing), so every event in it is whole: one split, no tail to keep.
            self._buf = b""
            if strip is not None:
                buf = buf.replace(strip, b"")
            blocks = buf.split(b"\n\n")
            blocks.pop()  # the empty string after the last event
        else:
            blocks = buf.split(b"\n\n")
            tail = self._buf = blocks.pop()  # an event still arriving (or b"")
            if strip is not None and buf.find(strip) >= 0:
                blocks = buf[: len(buf) - len(tail)].replace(strip, b"").split(b"\n\n")
                blocks.pop()  # the empty string after the last complete event
        events: list[StreamEvent] = []
        append, from_wire = events.append, StreamEvent.from_wire
        for block in blocks:
            if block.startswith(b"data: ") and block.find(b"\n") < 0:  # OpenAI's usual shape
                append(from_wire(None, block[6:], block + b"\n\n"))
                continue
            if block.startswith(b"\n"):  # extra blank lines between events are allowed
                block = block.lstrip(b"\n")
            if not block:
                continue
            event = _parse_block(block)
            if event is not None:
                append(event)
        return events

    def flush(self) -> list[StreamEvent]:
        """At end of body: the last event if the server omitted its closing blank line and
        the event is complete (its data parses).  A truncated event is dropped."""
        rest, self._buf = self._buf.strip(b"\r\n"), b""
        if self._strip is not None:
            rest = rest.replace(self._strip, b"")
        if not rest:
            return []
        event = _parse_block(rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        if event is None:
            return []
        try:
            event.data  # noqa: B018 -- a truncated event does not parse
        except MalformedEvent:
            return []
        return [event]


def _parse_block(block: bytes) -> StreamEvent | None:
    if block.startswith(b"data: ") and block.find(b"\n") < 0:  # OpenAI's usual shape
        return StreamEvent.from_wire(None, block[6:], block + b"\n\n")
    if block.startswith(b"event: "):  # Anthropic's usual shape: one event line, one data line
        newline = block.find(b"\n")
        single_data_line = block.find(b"\n", newline + 1) < 0
        if newline > 0 and single_data_line and block.startswith(b"data: ", newline + 1):
            kind = block[7:newline].decode("utf-8", "replace")
            return StreamEvent.from_wire(kind, block[newline + 7 :], block + b"\n\n")
    name: str | None = None
    data: bytes | None = None
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[6:] if line[5:6] == b" " else line[5:]
            data = value if data is None else data + b"\n" + value
        elif line.startswith(b"event:"):
            value = line[7:] if line[6:7] == b" " else line[6:]
            name = value.decode("utf-8", "replace")
        # Comments (":..."), id:, retry: and unknown fields are ignored.
    if data is None:
        return None
    return StreamEvent.from_wire(name, data, block + b"\n\n")


class ReadMarks:
    """Which of one read's events hold a mark (:attr:`marked`, indexes ascending), and
    the sizes of its events' raw bytes, summed over any run of them (:meth:`raw_bytes`)."""

    __slots__ = ("_ends", "marked")

    def __init__(self, marked: list[int], ends: list[int]) -> None:
        self.marked = marked
        self._ends = ends  # the running total of the events' raw sizes

    def raw_bytes(self, start: int, stop: int) -> int:
        """The raw bytes of events ``start`` to ``stop - 1`` together."""
        before = self._ends[start - 1] if start else 0
        return self._ends[stop - 1] - before if stop > start else 0


def read_marks(events: Sequence[StreamEvent], marks: Sequence[bytes]) -> ReadMarks:
    """Which of the ``events`` hold any of ``marks`` in their raw bytes (:class:`ReadMarks`).

    One search per mark over the events' bytes joined (and one more per event that holds
    it), instead of every mark searched in every event: a stream handler passes the
    unmarked events on untouched and looks only at the marked ones, so a read of many
    plain text deltas costs a few searches, not a few per event."""
    region = b"".join([event.raw for event in events])
    ends = list(accumulate([len(event.raw) for event in events]))
    found: set[int] = set()
    for mark in marks:
        at = region.find(mark)
        while at >= 0:
            index = bisect_right(ends, at)  # the event holding the mark's first byte
            found.add(index)
            if ends[index] - at < len(mark):  # a mark across two events (a raw event ends
                found.add(index + 1)  # with a blank line, so none does): both looked at
            at = region.find(mark, ends[index])
    return ReadMarks(sorted(found), ends)
