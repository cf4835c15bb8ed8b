"""``StreamTee``: one upstream answer, many consumers (in-flight coalescing).

One background task (the pump) reads the upstream into a buffer; every subscriber reads the
buffer from its start, so a late subscriber sees every batch.  Why a task and not "the
consumer that is ahead pulls": a pull runs in the puller's task, so cancelling that consumer
(its client hung up) would throw ``CancelledError`` into the upstream's generator and end
the stream for everybody.  The pump is the only reader of the upstream, and consumers only
ever wait on an :class:`asyncio.Event`, which a cancelled waiter leaves intact.

Each subscriber gets its own :class:`ChatResponse`.  The facts the upstream's stream
changes as it goes (usage, ``stream_complete``, model...) are recorded with each batch, as
they were when the batch was produced, and written into a subscriber's response just before
it is handed that batch: a subscriber behind the others never sees ``stream_complete`` on a
batch that is not the last, and none misses the final usage.  The facts are recorded again
when the upstream ends (its end of body can still change them).

The upstream is closed when it ended, or when every subscriber left before its end; the tee
then refuses new subscribers (:class:`TeeClosed`).  If the upstream fails, every subscriber
gets its batches up to the failure, then the same error.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Sequence

import orjson

from thrifty.streams._guarded import Batches, GuardedStream, Started
from thrifty.types import JSON, ChatResponse, StreamEvent, Usage

__all__ = ["StreamTee", "TeeClosed"]


class TeeClosed(RuntimeError):
    """The tee's upstream was abandoned (every subscriber left, or ``aclose()``): it cannot
    serve a new subscriber.  Make a new upstream call instead."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Facts:
    """What the upstream's stream changes on its response as it goes."""

    model: str
    usage: Usage
    usage_reported: bool
    usage_estimated: bool
    stream_complete: bool
    service_tier: str | None
    batch: bool
    server_tools: tuple[tuple[str, int], ...]
    upstream_latency_s: float | None
    truncated: bool

    @classmethod
    def of(cls, r: ChatResponse) -> _Facts:
        return cls(
            r.model,
            r.usage,
            r.usage_reported,
            r.usage_estimated,
            r.stream_complete,
            r.service_tier,
            r.batch,
            tuple(r.server_tools.items()),
            r.upstream_latency_s,
            r.truncated,
        )

    def same_as(self, r: ChatResponse) -> bool:
        # Latency alone changing does not make a new record: it is final only at the end.
        return (
            r.stream_complete is self.stream_complete
            and r.usage is self.usage
            and r.model is self.model
            and r.usage_reported is self.usage_reported
            and r.usage_estimated is self.usage_estimated
            and r.service_tier is self.service_tier
            and r.batch is self.batch
            and r.truncated is self.truncated
            and len(r.server_tools) == len(self.server_tools)
            and (not self.server_tools or tuple(r.server_tools.items()) == self.server_tools)
        )

    def apply(self, r: ChatResponse) -> None:
        r.model = self.model
        r.usage = self.usage
        r.usage_reported = self.usage_reported
        r.usage_estimated = self.usage_estimated
        r.stream_complete = self.stream_complete
        r.service_tier = self.service_tier
        r.batch = self.batch
        r.server_tools = dict(self.server_tools)
        r.upstream_latency_s = self.upstream_latency_s
        r.truncated = self.truncated


def _copy_body(body: JSON) -> JSON:
    try:
        copied = orjson.loads(orjson.dumps(body))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(body)
    assert isinstance(copied, dict)
    return copied


class StreamTee:
    """Share one upstream :class:`ChatResponse` among many consumers.

    ``subscribe()`` gives each consumer its own response; for a stream, its ``stream``
    yields every batch from the start.  A consumer leaves by closing its stream (or by
    being cancelled); leaving never disturbs the others.  The tee takes over
    ``response.stream``: nothing else may read it.  Create and use it on one event loop.
    """

    __slots__ = (
        "_abandon_error",
        "_batches",
        "_changed",
        "_closed",
        "_consumers",
        "_done",
        "_error",
        "_facts",
        "_final",
        "_initial",
        "_over",
        "_pump",
        "_source",
        "_upstream",
    )

    def __init__(self, response: ChatResponse) -> None:
        self._source = response
        self._upstream: AsyncIterator[Sequence[StreamEvent]] | None = response.stream
        self._initial = _Facts.of(response)
        self._batches: list[Sequence[StreamEvent]] = []
        self._facts: list[_Facts] = []  # the facts as they were when each batch came
        self._final = self._initial  # ... and when the upstream ended
        self._changed = asyncio.Event()
        self._over = response.stream is None  # the pump stopped reading the upstream
        self._done = self._over  # ... and the upstream is closed and its end published
        self._error: BaseException | None = None
        self._closed = False  # abandoned before its end: no new subscriber
        self._consumers = 0
        self._pump: asyncio.Task[None] | None = None
        self._abandon_error: BaseException | None = None  # what aclose(error) hands out

    @property
    def joinable(self) -> bool:
        """Whether ``subscribe()`` would succeed."""
        return not self._closed

    @property
    def done(self) -> bool:
        """Whether the upstream ended (completely, or with an error)."""
        return self._done

    def subscribe(self) -> ChatResponse:
        """A new consumer's own response (raises :class:`TeeClosed` if abandoned)."""
        if self._closed:
            raise TeeClosed("the shared upstream stream was abandoned; call the upstream again")
        source = self._source
        view = dataclasses.replace(
            source,
            stream=None,
            steps=[dataclasses.replace(step) for step in source.steps],
            lever_calls=list(source.lever_calls),
            server_tools=dict(source.server_tools),
        )
        if self._upstream is None:
            if source.body is not None:
                view.body = _copy_body(source.body)
            return view
        self._initial.apply(view)
        self._consumers += 1
        flag = Started()

        async def closed_before_start() -> None:
            await self._leave(view)

        view.stream = GuardedStream(self._consume(view, flag), flag, closed_before_start)
        return view

    async def aclose(self, error: BaseException | None = None) -> None:
        """Refuse new subscribers, and abandon the upstream if it has not ended:
        subscribers still reading then get ``error`` (default :class:`TeeClosed`) after
        the batches already buffered."""
        self._closed = True
        if not self._over:
            self._abandon_error = error
            await self._stop()

    # -- internals -----------------------------------------------------------------------

    async def _consume(self, view: ChatResponse, flag: Started) -> Batches:
        flag.started = True
        batches = self._batches
        facts = self._facts
        applied = self._initial
        i = 0
        try:
            while True:
                while i < len(batches):
                    batch = batches[i]
                    now = facts[i]
                    i += 1
                    if now is not applied:
                        applied = now
                        now.apply(view)
                    yield batch
                if self._done:
                    self._final.apply(view)
                    if self._error is not None:
                        raise self._error
                    return
                if self._pump is None:
                    self._pump = asyncio.get_running_loop().create_task(self._run())
                await self._changed.wait()
        finally:
            await self._leave(view)

    async def _leave(self, view: ChatResponse) -> None:
        self._consumers -= 1
        if self._consumers == 0 and not self._over:
            self._closed = True
            await self._stop()
            if self._done:
                # This consumer's leaving ended the upstream: the facts closing it settled
                # (a cut stream's estimated usage) are its to book.
                self._final.apply(view)

    async def _stop(self) -> None:
        """Abandon the upstream before its end; return once it is closed."""
        pump = self._pump
        if pump is None:
            self._over = True
            self._pump = pump = asyncio.get_running_loop().create_task(self._ended(self._why()))
        else:
            pump.cancel()
        # Not ``await pump``: if this task were cancelled again, that would cancel the pump
        # in the middle of closing the upstream.
        await asyncio.wait((pump,))
        if not self._done:  # the pump was cancelled before its first step: it never ran
            self._over = True
            self._pump = pump = asyncio.get_running_loop().create_task(self._ended(self._why()))
            await asyncio.wait((pump,))

    async def _run(self) -> None:
        upstream = self._upstream
        assert upstream is not None
        source = self._source
        batches = self._batches
        facts = self._facts
        changed = self._changed
        last = self._initial
        next_batch = upstream.__aiter__().__anext__
        error: BaseException | None = None
        try:
            while True:
                batch = await next_batch()
                if not last.same_as(source):
                    last = _Facts.of(source)
                facts.append(last)
                batches.append(batch)
                changed.set()
                changed.clear()
        except StopAsyncIteration:
            pass
        except asyncio.CancelledError:  # from _stop(): every subscriber left, or aclose()
            error = self._why()
        except Exception as exc:
            error = exc
        self._over = True
        await self._ended(error)

    def _why(self) -> BaseException:
        return self._abandon_error or _abandoned()

    async def _ended(self, error: BaseException | None) -> None:
        """Close the upstream, then publish how it ended."""
        try:
            upstream = self._upstream
            close = getattr(upstream, "aclose", None)
            if close is not None:
                await close()
        finally:
            self._final = _Facts.of(self._source)
            self._error = error
            self._done = True
            self._changed.set()


def _abandoned() -> TeeClosed:
    return TeeClosed("the shared upstream stream was abandoned before its end")
