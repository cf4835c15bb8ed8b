"""What a provider hands out for a streamed answer: the :class:`StreamHandler` a dialect
supplies to follow its upstream's events, and :class:`UpstreamStream`, the iterator set as
``ChatResponse.stream``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Protocol

from thrifty.providers.http1 import Response
from thrifty.types import StreamEvent

__all__ = ["StreamHandler", "UpstreamStream"]


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
            self._settle()  # a generator closed before its first step never ran its finally
            if not self._resp.closed:
                self._resp.close()
