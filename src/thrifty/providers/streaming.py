"""What a provider hands out for a streamed answer: the :class:`StreamHandler` a dialect
supplies to follow its upstream's events, and :class:`UpstreamStream`, the iterator set as
``ChatResponse.stream``, reading the upstream's body (:func:`upstream_events`)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from thrifty.errors import StreamInterrupted, ThriftyError, UpstreamTimeout, UpstreamUnavailable
from thrifty.providers.http1 import Http1Error, Response
from thrifty.providers.sse import SSEParser
from thrifty.types import ChatResponse, MalformedEvent, StreamEvent

__all__ = [
    "BatchStreamHandler",
    "StreamDeadlines",
    "StreamHandler",
    "UpstreamStream",
    "each_event",
    "upstream_events",
]


class StreamHandler(Protocol):
    """Follows one upstream stream: updates the response's usage, says when the terminal
    event arrived, and turns each upstream event into the events the app receives.

    ``settle()`` is called once the stream is over, however it ended (done, cut, error,
    closed by the consumer, closed before it was read): when the upstream's final usage
    never arrived it books what was seen as an estimate (``usage_estimated``).  It must
    be idempotent and cheap when the stream completed.
    """

    complete: bool
    # A fragment the SSE parser removes from every event before ``on_event`` sees it (see
    # :class:`thrifty.providers.sse.SSEParser`), or None.
    strip_fragment: bytes | None

    def on_event(self, event: StreamEvent) -> list[StreamEvent] | tuple[StreamEvent, ...]: ...

    def settle(self) -> None: ...


class BatchStreamHandler(StreamHandler, Protocol):
    """A handler that also takes all the events of one read in one call
    (:meth:`on_events`), so that it can pass plain events on without a look at each (see
    :func:`thrifty.providers.sse.read_marks`).  Optional: a handler without it gets
    :meth:`StreamHandler.on_event` for each event."""

    def on_events(self, events: list[StreamEvent], out: list[StreamEvent]) -> None:
        """Append to ``out`` what the app receives for ``events``, in order, stopping at
        the terminal event (as ``on_event`` for each would).  On an error, ``out`` holds
        what the events before it produced: that still reaches the app."""
        ...


def each_event(handler: StreamHandler, events: list[StreamEvent], out: list[StreamEvent]) -> None:
    """:meth:`BatchStreamHandler.on_events` done with ``handler.on_event``, one at a time."""
    for event in events:
        if handler.complete:
            return  # nothing after the terminal event reaches the app
        out.extend(handler.on_event(event))


def _settled() -> None:
    """What is left to settle once a stream is closed: nothing.  (The handler's
    ``settle`` is dropped then: it holds the response that holds this stream, a reference
    cycle only the cyclic collector would free.)"""


class UpstreamStream:
    """The async iterator handed out as ``ChatResponse.stream``.

    ``aclose()`` (or cancelling the consumer) releases the upstream connection, even when
    iteration never started.  By the time ``aclose()`` returns, or an iteration raises,
    the response's usage is settled: exact when the upstream reported it, else estimated
    from what was seen (see :meth:`StreamHandler.settle`).
    """

    __slots__ = ("_gen", "_resp", "_settle")

    def __init__(
        self,
        resp: Response,
        gen: AsyncGenerator[list[StreamEvent], None],
        settle: Callable[[], None],
    ) -> None:
        self._resp = resp
        self._gen = gen
        self._settle = settle

    def __aiter__(self) -> AsyncIterator[list[StreamEvent]]:
        return self

    async def __anext__(self) -> list[StreamEvent]:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        try:
            await self._gen.aclose()
        finally:
            settle, self._settle = self._settle, _settled
            settle()  # a generator closed before its first step never ran its finally
            if not self._resp.closed:
                self._resp.close()


@dataclass(frozen=True, slots=True)
class StreamDeadlines:
    """How long a stream may stay silent between two reads, and last in all (seconds)."""

    idle_s: float
    total_s: float


async def upstream_events(
    name: str,
    resp: Response,
    response: ChatResponse,
    handler: StreamHandler,
    started: float,
    deadlines: StreamDeadlines,
) -> AsyncGenerator[list[StreamEvent], None]:
    """The batches of events of upstream ``name``'s streamed answer ``resp``, one batch per
    read, as ``handler`` turns them into the app's events; ends with the terminal event
    (a stream cut before it is :class:`StreamInterrupted`), with the response's usage
    settled before any exception reaches the consumer."""
    parser = SSEParser(strip=handler.strip_fragment)
    on_events: Callable[[list[StreamEvent], list[StreamEvent]], None] | None
    on_events = getattr(handler, "on_events", None)
    chunks = resp.iter_chunks(deadlines.idle_s).__aiter__()
    eof = False
    failure: ThriftyError | None = None
    try:
        while not eof:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                eof = True
                events = parser.flush()
            except TimeoutError:
                if time.perf_counter() - started >= deadlines.total_s:
                    text = f"did not finish its stream within {deadlines.total_s}s"
                else:
                    text = f"went silent mid-stream for {deadlines.idle_s}s"
                raise UpstreamTimeout(f"{name} {text}", provider=name) from None
            except Http1Error as exc:
                raise StreamInterrupted(
                    f"{name} cut the stream: {type(exc).__name__}", provider=name
                ) from None
            else:
                events = parser.feed(chunk)
            batch: list[StreamEvent] = []
            try:
                if on_events is not None and len(events) > 1:
                    on_events(events, batch)
                else:
                    each_event(handler, events, batch)
            except MalformedEvent as exc:
                if batch:
                    yield batch
                raise UpstreamUnavailable(f"{name}: {exc}", provider=name) from None
            except Exception:
                if batch:
                    yield batch  # what arrived before the error still reaches the app
                raise
            if batch:
                yield batch
        if not handler.complete:
            raise StreamInterrupted(
                f"{name} ended the stream before its final event", provider=name
            )
    except ThriftyError as exc:
        exc.reached_upstream = True  # the stream had started: the call was processed
        failure = exc
        raise
    finally:
        # Before the exception (or aclose) reaches the consumer, so whoever books the
        # call sees its usage settled: exact, or estimated from what was seen.
        handler.settle()
        if failure is not None:
            failure.model = response.model
            failure.usage_estimate = response.usage if response.usage_reported else None
        response.upstream_latency_s = time.perf_counter() - started
        if eof:
            resp.release()
        else:
            resp.close()
