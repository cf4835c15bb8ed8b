"""``observe``: watch a stream to its end, without touching its batches.

The contract (docs/architecture.md, "Stream contract"):

* ``on_complete()`` is awaited when the batch that completes the stream arrives
  (``response.stream_complete`` became True while it was produced), *before* that batch is
  handed on: whatever it commits (a ledger row) is committed before the app has its answer.
  A stream that ran out with ``stream_complete`` set but no batch to carry it completes at
  its end.
* ``on_abort(exc, handed_on)`` is awaited, exactly once, when the stream ends any other
  way: ``exc`` is the upstream's error, ``asyncio.CancelledError`` (the consumer's task was
  cancelled), ``GeneratorExit`` (the consumer closed the stream before its end, started or
  not), or ``None`` (the upstream ran out without completing and without an error);
  ``handed_on`` says whether any batch reached the consumer (the app got HTTP 200).
* Exactly one of the two is called (if ``on_complete`` fails or is cancelled, that is its
  own business: ``on_abort`` is not called after it started).
* The upstream iterator is always closed (``aclose``), whatever happened.  On an abort it
  is closed *before* ``on_abort`` runs, because closing settles the response's facts (a cut
  stream's estimated usage); ``on_abort`` runs in a ``finally`` around the close, so a
  second cancellation landing during the close cannot skip it, and the callback must start
  its work (commit, or queue) before its own first suspension.
* Once ``on_complete`` ran, an ``Exception`` from the upstream (a broken end of body after
  the final event) ends the stream quietly: the answer is complete and accounted for.
  Cancellation and ``GeneratorExit`` are never swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from thrifty.streams._guarded import Batches, GuardedStream, Started
from thrifty.types import ChatResponse, StreamEvent

__all__ = ["OnAbort", "OnComplete", "observe", "observed"]

log = logging.getLogger("thrifty.streams")

OnComplete = Callable[[], Awaitable[None]]
OnAbort = Callable[[BaseException | None, bool], Awaitable[None]]


def observe(response: ChatResponse, *, on_complete: OnComplete, on_abort: OnAbort) -> None:
    """Replace ``response.stream`` with an observed one (see the module docstring)."""
    if response.stream is None:
        raise ValueError("observe() needs a streamed response (response.stream is None)")
    response.stream = observed(
        response, response.stream, on_complete=on_complete, on_abort=on_abort
    )


def observed(
    response: ChatResponse,
    upstream: AsyncIterator[Sequence[StreamEvent]],
    *,
    on_complete: OnComplete,
    on_abort: OnAbort,
) -> GuardedStream:
    """``upstream`` (the stream of ``response``) wrapped as :func:`observe` does, returned
    instead of assigned: for a stage that builds ``response.stream`` itself."""
    flag = Started()

    async def closed_before_start() -> None:
        try:
            await _close(upstream)
        finally:
            await on_abort(GeneratorExit(), False)

    gen = _observe(response, upstream, flag, on_complete, on_abort)
    return GuardedStream(gen, flag, closed_before_start)


async def _close(upstream: AsyncIterator[Sequence[StreamEvent]]) -> None:
    close = getattr(upstream, "aclose", None)
    if close is not None:
        await close()


async def _observe(
    response: ChatResponse,
    upstream: AsyncIterator[Sequence[StreamEvent]],
    flag: Started,
    on_complete: OnComplete,
    on_abort: OnAbort,
) -> Batches:
    flag.started = True
    completed = handed_on = False
    ours = (
        False  # True while on_complete runs or a batch is out: an error then is not the upstream's
    )
    failure: BaseException | None = None
    try:
        try:
            # ``async for`` (not ``await upstream.__anext__()``): the interpreter's own slot
            # calls, ~100 ns a batch cheaper; a GuardedStream upstream hands over its
            # generator here, so nested observers add no call of their own.
            async for batch in upstream:
                if not completed and response.stream_complete:
                    completed = ours = True
                    await on_complete()
                handed_on = ours = True
                yield batch
                ours = False
        except Exception as exc:
            if not completed or ours:
                raise
            log.debug("stream error after its final event, ignored: %r", exc)
        if not completed and response.stream_complete:
            completed = True  # completed at its end, with no batch left to carry it
            await on_complete()
    except BaseException as exc:
        failure = exc
        raise
    finally:
        try:
            try:
                await _close(upstream)
            finally:
                if not completed:
                    await on_abort(failure, handed_on)
        finally:
            # The exception's traceback holds this frame, which holds it: a reference
            # cycle, left for the cyclic collector unless dropped here (a completed
            # stream's failure too: a client gone while its end was read).
            failure = None
