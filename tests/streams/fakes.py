"""A scripted upstream stream for the stream-contract tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from thrifty.types import ChatResponse, StreamEvent, Usage

FINAL_USAGE = Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100)
ESTIMATED_USAGE = Usage(input_tokens=120, output_tokens=7)


def ev(name: str) -> StreamEvent:
    return StreamEvent(event=None, data={"n": name}, raw=f"data: {name}\n\n".encode())


def batch(*names: str) -> list[StreamEvent]:
    return [ev(n) for n in names]


def names(batches: Sequence[Sequence[StreamEvent]]) -> list[str]:
    return [e.raw.decode()[6:-2] for b in batches for e in b]


def complete(response: ChatResponse) -> None:
    """What a provider does when the terminal event arrives."""
    response.usage = FINAL_USAGE
    response.usage_reported = True
    response.stream_complete = True


def set_model(model: str) -> Callable[[ChatResponse], None]:
    def step(response: ChatResponse) -> None:
        response.model = model

    return step


Step = list[StreamEvent] | BaseException | asyncio.Event | Callable[[ChatResponse], None]


class Upstream:
    """Plays ``script`` in order: a list is a batch, an exception is raised, an Event is
    waited for, a callable mutates the response (as a provider does while it reads).

    Like a provider's stream, closing it settles the response: a stream that did not
    complete gets an estimated usage.  ``close_gate`` makes ``aclose()`` wait for it."""

    def __init__(
        self,
        response: ChatResponse,
        script: Sequence[Step],
        close_gate: asyncio.Event | None = None,
    ) -> None:
        self.response = response
        self.script = list(script)
        self.close_gate = close_gate
        self.closing = asyncio.Event()  # set when aclose() starts
        self.closed = 0
        self.pulls = 0
        self.cancelled = False  # a CancelledError reached a pull
        self.waiting = asyncio.Event()  # set while a read waits for a gate

    def __aiter__(self) -> Upstream:
        return self

    async def __anext__(self) -> list[StreamEvent]:
        self.pulls += 1
        while self.script and not self.closed:
            step = self.script.pop(0)
            if isinstance(step, list):
                return step
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, asyncio.Event):
                self.waiting.set()
                try:
                    await step.wait()
                except asyncio.CancelledError:
                    self.cancelled = True
                    raise
                continue
            step(self.response)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed += 1
        self.closing.set()
        try:
            if self.close_gate is not None:
                await self.close_gate.wait()
        finally:
            if not self.response.stream_complete and not self.response.usage_reported:
                self.response.usage = ESTIMATED_USAGE
                self.response.usage_reported = self.response.usage_estimated = True


def streamed(
    script: Sequence[Step], *, model: str = "m", close_gate: asyncio.Event | None = None
) -> tuple[ChatResponse, Upstream]:
    response = ChatResponse(dialect="openai", model=model, provider="p", usage_reported=False)
    upstream = Upstream(response, script, close_gate)
    response.stream = upstream
    return response, upstream
