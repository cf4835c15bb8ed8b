from __future__ import annotations

import pytest

from thrifty.providers.sse import SSEParser, read_marks
from thrifty.types import MalformedEvent, StreamEvent


def feed_all(parser: SSEParser, pieces: list[bytes]) -> list[tuple[str | None, object]]:
    out: list[tuple[str | None, object]] = []
    for piece in pieces:
        out.extend((e.event, e.data) for e in parser.feed(piece))
    out.extend((e.event, e.data) for e in parser.flush())
    return out


STREAM = (
    b": keep-alive comment\n\n"
    b'event: message_start\ndata: {"type":"message_start"}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'data: {"a":\ndata: 1}\n\n'
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ("message_start", {"type": "message_start"}),
    ("ping", {"type": "ping"}),
    (None, {"a": 1}),
    (None, None),
]


def test_whole_body() -> None:
    assert feed_all(SSEParser(), [STREAM]) == EXPECTED


def test_split_at_every_byte() -> None:
    pieces = [STREAM[i : i + 1] for i in range(len(STREAM))]
    assert feed_all(SSEParser(), pieces) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_other_line_endings_split_anywhere(newline: bytes) -> None:
    body = STREAM.replace(b"\n", newline)
    for size in (1, 2, 3, 7):
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        assert feed_all(SSEParser(), pieces) == EXPECTED


def test_raw_bytes_are_the_event() -> None:
    events = SSEParser().feed(b'event: ping\ndata: {"type": "ping"}\n\n')
    assert events[0].raw == b'event: ping\ndata: {"type": "ping"}\n\n'


def test_no_space_after_colon_and_unknown_fields() -> None:
    events = SSEParser().feed(b'id: 7\nretry: 10\nevent:x\ndata:{"b":2}\n\n')
    assert [(e.event, e.data) for e in events] == [("x", {"b": 2})]


def test_flush_keeps_complete_last_event_drops_truncated() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert [e.data for e in parser.flush()] == [None]
    parser = SSEParser()
    assert parser.feed(b'data: {"trunc') == []
    assert parser.flush() == []


def test_invalid_json_raises_when_the_payload_is_read() -> None:
    [event] = SSEParser().feed(b"data: {nope\n\n")  # parsing is lazy...
    assert event.raw == b"data: {nope\n\n"
    with pytest.raises(MalformedEvent):
        event.data  # noqa: B018 -- ...and fails on first read


def test_a_non_object_payload_raises_when_read() -> None:
    [event] = SSEParser().feed(b"data: [1, 2]\n\n")
    with pytest.raises(MalformedEvent):
        event.data  # noqa: B018


STRIPPED = (
    b'data: {"id":"1","choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'
    b'data: {"id":"1","choices":[{"delta":{"content":"b"}}],"usage":null}\n\n'
    b'data: {"id":"1","choices":[],"usage":{"prompt_tokens":3}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("size", [1, 2, 5, 13, len(STRIPPED)])
def test_strip_removes_the_fragment_from_every_event_even_split_across_reads(size: int) -> None:
    parser = SSEParser(strip=b',"usage":null')
    raws: list[bytes] = []
    for i in range(0, len(STRIPPED), size):
        raws.extend(event.raw for event in parser.feed(STRIPPED[i : i + size]))
    raws.extend(event.raw for event in parser.flush())
    assert b"".join(raws) == STRIPPED.replace(b',"usage":null', b"")
    assert len(raws) == 4


def test_strip_applies_to_a_last_event_without_its_blank_line() -> None:
    parser = SSEParser(strip=b',"usage":null')
    assert parser.feed(b'data: {"a":1,"usage":null}') == []
    (event,) = parser.flush()
    assert event.data == {"a": 1}


def test_without_strip_the_bytes_are_untouched() -> None:
    events = SSEParser().feed(STRIPPED)
    assert b"".join(event.raw for event in events) == STRIPPED


def raws_of(parser: SSEParser, pieces: list[bytes]) -> list[bytes]:
    raws = [event.raw for piece in pieces for event in parser.feed(piece)]
    return raws + [event.raw for event in parser.flush()]


BLANK_LINES = (
    b'data: {"n":1}\n\n\n'  # a blank line after an event: no event of its own
    b'data: {"n":2}\n\n\n\n'
    b'event: ping\ndata: {"n":3}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("size", range(1, 12))
def test_reads_that_end_on_blank_lines_give_what_one_read_gives(size: int) -> None:
    """A read that ends where an event ends takes a shorter path than one that ends inside
    an event or between blank lines: the events are the same whatever the split."""
    whole = raws_of(SSEParser(), [BLANK_LINES])
    assert whole == [
        b'data: {"n":1}\n\n',
        b'data: {"n":2}\n\n',
        b'event: ping\ndata: {"n":3}\n\n',
        b"data: [DONE]\n\n",
    ]
    pieces = [BLANK_LINES[i : i + size] for i in range(0, len(BLANK_LINES), size)]
    assert raws_of(SSEParser(), pieces) == whole


@pytest.mark.parametrize("size", [1, 3, 7, 40])
def test_strip_on_reads_that_end_on_an_event_or_inside_one(size: int) -> None:
    body = STRIPPED.replace(b"\n\n", b"\n\n\n", 1)
    parser = SSEParser(strip=b',"usage":null')
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    assert raws_of(parser, pieces) == raws_of(SSEParser(strip=b',"usage":null'), [body])
    assert b"".join(raws_of(SSEParser(strip=b',"usage":null'), [body])) == STRIPPED.replace(
        b',"usage":null', b""
    )


def events_of(*raws: bytes) -> list[StreamEvent]:
    return [StreamEvent.from_wire(None, raw, raw) for raw in raws]


def test_marked_events_are_those_holding_a_mark() -> None:
    events = events_of(
        b'data: {"a":"x"}\n\n',
        b'data: {"usage":1}\n\n',
        b'data: {"b":"y"}\n\n',
        b'data: {"usage":2,"error":3}\n\n',
        b"data: [DONE]\n\n",
    )
    assert read_marks(events, (b'"usage"', b'"error"', b"[DONE]")).marked == [1, 3, 4]
    assert read_marks(events, (b'"nowhere"',)).marked == []
    assert read_marks(events, ()).marked == []


def test_a_mark_in_every_event_marks_every_event() -> None:
    events = events_of(*[b'data: {"usage":null}\n\n'] * 50)
    assert read_marks(events, (b'"usage"',)).marked == list(range(50))


def test_a_mark_across_two_events_marks_both() -> None:
    """Events read off the wire end with a blank line, so no mark spans two; made by hand
    they can, and then both are looked at (never neither)."""
    events = events_of(b'data: {"a":"us', b'age"}', b'data: {"b":2}\n\n')
    assert read_marks(events, (b"usage",)).marked == [0, 1]
    assert read_marks(events, (b'"b"',)).marked == [2]


def test_raw_bytes_sums_any_run_of_a_reads_events() -> None:
    raws = [b"data: 1\n\n", b"data: 22\n\n", b"data: 333\n\n", b"data: [DONE]\n\n"]
    marks = read_marks(events_of(*raws), ())
    for start in range(len(raws) + 1):
        for stop in range(start, len(raws) + 1):
            assert marks.raw_bytes(start, stop) == sum(len(raw) for raw in raws[start:stop])
