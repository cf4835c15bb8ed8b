"""The one async-iterator shape every stream wrapper hands out.

A wrapper's work is one async generator (its ``finally`` does the cleanup), but an async
generator that was never started runs nothing when it is closed: its ``finally`` never
executes.  :class:`GuardedStream` closes that gap.  ``async for`` gets the generator itself
from ``__aiter__``, so iteration costs nothing extra; ``aclose()`` before the first batch
runs the wrapper's cleanup directly.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from thrifty.types import StreamEvent

Batches = AsyncGenerator[Sequence[StreamEvent], None]


async def _nothing() -> None:
    return None


class Started:
    """Set by a wrapper's generator on its first step (shared with its GuardedStream)."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False


class GuardedStream:
    """``ChatResponse.stream`` as handed out by :mod:`thrifty.streams`.

    ``gen`` must set ``flag.started = True`` before its first suspension;
    ``if_unstarted`` is the cleanup to run when the stream is closed before that.
    """

    __slots__ = ("_flag", "_gen", "_if_unstarted")

    def __init__(
        self, gen: Batches, flag: Started, if_unstarted: Callable[[], Awaitable[None]]
    ) -> None:
        self._gen = gen
        self._flag = flag
        # Dropped once closed: it holds the wrapper's callbacks, which hold the response
        # that holds this stream, a reference cycle only the cyclic collector would free.
        self._if_unstarted = if_unstarted

    def __aiter__(self) -> Batches:
        return self._gen

    def __anext__(self) -> Awaitable[Sequence[StreamEvent]]:
        return self._gen.__anext__()

    async def aclose(self) -> None:
        flag = self._flag
        if_unstarted, self._if_unstarted = self._if_unstarted, _nothing
        if flag.started:
            await self._gen.aclose()
            return
        flag.started = True
        await self._gen.aclose()  # never ran: now it never will (iteration ends at once)
        await if_unstarted()
