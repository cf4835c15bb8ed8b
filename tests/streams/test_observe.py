"""observe(): on_complete before the final batch, on_abort exactly once otherwise, the
upstream always closed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.streams.fakes import (
    ESTIMATED_USAGE,
    FINAL_USAGE,
    Upstream,
    batch,
    complete,
    names,
    streamed,
)
from thrifty.streams import observe, observed
from thrifty.types import ChatResponse, StreamEvent


class Log:
    """Callbacks that write into one log, shared with the consumer."""

    def __init__(self, response: ChatResponse) -> None:
        self.response = response
        self.entries: list[str] = []
        self.aborts: list[BaseException | None] = []
        self.handed_on: list[bool] = []
        self.usage_at_abort: list[object] = []

    async def on_complete(self) -> None:
        # What the ledger does: read the final usage, commit, then maybe suspend.
        assert self.response.usage == FINAL_USAGE
        self.entries.append("complete")
        await asyncio.sleep(0)

    async def on_abort(self, exc: BaseException | None, handed_on: bool) -> None:
        self.entries.append("abort")
        self.aborts.append(exc)
        self.handed_on.append(handed_on)
        # The upstream is closed by now, so the response's facts are settled.
        self.usage_at_abort.append(self.response.usage)
        await asyncio.sleep(0)

    def consumed(self, got: Sequence[StreamEvent]) -> None:
        self.entries.extend(names([got]))


def observed_log(response: ChatResponse) -> Log:
    log = Log(response)
    observe(response, on_complete=log.on_complete, on_abort=log.on_abort)
    return log


async def drain(response: ChatResponse, log: Log) -> None:
    assert response.stream is not None
    async for got in response.stream:
        log.consumed(got)


async def test_complete_stream_books_before_the_final_batch() -> None:
    response, upstream = streamed([batch("a"), batch("b", "c"), complete, batch("d")])
    log = observed_log(response)
    await drain(response, log)
    assert log.entries == ["a", "b", "c", "complete", "d"]
    assert log.aborts == []
    assert upstream.closed == 1


async def test_complete_at_the_end_with_no_batch_left_still_completes() -> None:
    response, upstream = streamed([batch("a"), complete])
    log = observed_log(response)
    await drain(response, log)
    assert log.entries == ["a", "complete"]
    assert upstream.closed == 1


async def test_upstream_error_mid_way_aborts_with_it_and_reaches_the_consumer() -> None:
    boom = RuntimeError("upstream cut the stream")
    response, upstream = streamed([batch("a"), boom, batch("never")])
    log = observed_log(response)
    with pytest.raises(RuntimeError) as raised:
        await drain(response, log)
    assert raised.value is boom
    assert log.entries == ["a", "abort"]
    assert log.aborts == [boom] and log.handed_on == [True]
    assert log.usage_at_abort == [ESTIMATED_USAGE]  # settled by the close, before on_abort
    assert upstream.closed == 1


async def test_upstream_error_before_any_batch_says_nothing_was_handed_on() -> None:
    boom = RuntimeError("refused mid-way")
    response, upstream = streamed([boom])
    log = observed_log(response)
    with pytest.raises(RuntimeError):
        await drain(response, log)
    assert log.aborts == [boom] and log.handed_on == [False]
    assert upstream.closed == 1


async def test_error_after_completion_is_swallowed() -> None:
    # The answer is complete and booked; the upstream broke only at its end of body.
    response, upstream = streamed([complete, batch("last"), RuntimeError("EOF broke")])
    log = observed_log(response)
    await drain(response, log)
    assert log.entries == ["complete", "last"]
    assert log.aborts == []
    assert upstream.closed == 1


async def test_upstream_running_out_without_completing_aborts_with_none() -> None:
    response, upstream = streamed([batch("a")])
    log = observed_log(response)
    await drain(response, log)
    assert log.entries == ["a", "abort"]
    assert log.aborts == [None]
    assert upstream.closed == 1


async def test_consumer_closing_early_aborts_once_and_closes_the_upstream() -> None:
    response, upstream = streamed([batch("a"), batch("b"), complete, batch("c")])
    log = observed_log(response)
    assert response.stream is not None
    async for got in response.stream:
        log.consumed(got)
        break
    close = getattr(response.stream, "aclose")  # noqa: B009
    await close()
    await close()  # a second close is harmless
    assert log.entries == ["a", "abort"]
    [exc] = log.aborts
    assert isinstance(exc, GeneratorExit) and log.handed_on == [True]
    assert log.usage_at_abort == [ESTIMATED_USAGE]
    assert upstream.closed == 1
    assert upstream.pulls == 1


async def test_closing_before_the_first_batch_still_aborts_and_closes() -> None:
    # An async generator closed before it started runs no finally: the contract must.
    response, upstream = streamed([batch("a"), complete])
    log = observed_log(response)
    assert response.stream is not None
    await getattr(response.stream, "aclose")()  # noqa: B009
    assert log.entries == ["abort"]
    assert isinstance(log.aborts[0], GeneratorExit) and log.handed_on == [False]
    assert log.usage_at_abort == [ESTIMATED_USAGE]
    assert upstream.closed == 1 and upstream.pulls == 0
    await drain(response, log)  # a closed stream yields nothing
    assert log.entries == ["abort"]


async def test_consumer_cancelled_mid_stream_aborts_with_cancelled_error() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, complete, batch("b")])
    log = observed_log(response)
    task = asyncio.create_task(drain(response, log))
    await upstream.waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.entries == ["a", "abort"]
    [exc] = log.aborts
    assert isinstance(exc, asyncio.CancelledError)
    assert upstream.cancelled and upstream.closed == 1


async def test_a_second_cancellation_during_the_close_cannot_skip_the_abort() -> None:
    gate, close_gate = asyncio.Event(), asyncio.Event()
    response, upstream = streamed([batch("a"), gate], close_gate=close_gate)
    log = observed_log(response)
    task = asyncio.create_task(drain(response, log))
    await upstream.waiting.wait()
    task.cancel()
    await upstream.closing.wait()  # the close is under way, and slow
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.entries == ["a", "abort"]
    [exc] = log.aborts
    assert isinstance(exc, asyncio.CancelledError)
    assert upstream.closed == 1 and not close_gate.is_set()


async def test_on_complete_failing_reaches_the_consumer_without_an_abort() -> None:
    response, upstream = streamed([batch("a"), complete, batch("b")])
    aborts: list[BaseException | None] = []

    async def on_complete() -> None:
        raise OSError("disk full")

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        aborts.append(exc)

    observe(response, on_complete=on_complete, on_abort=on_abort)
    log = Log(response)
    with pytest.raises(OSError, match="disk full"):
        await drain(response, log)
    assert log.entries == ["a"]  # the final batch was not handed on
    assert aborts == []
    assert upstream.closed == 1


async def test_observers_nest_inner_first() -> None:
    # Two stages observing the same stream: the inner one completes first, both before
    # the app gets the final batch; closing the outer closes the inner and the upstream.
    response, upstream = streamed([batch("a"), complete, batch("b")])
    inner = observed_log(response)
    outer = Log(response)
    observe(response, on_complete=outer.on_complete, on_abort=outer.on_abort)
    outer.entries = inner.entries  # one shared log
    await drain(response, outer)
    assert inner.entries == ["a", "complete", "complete", "b"]
    assert upstream.closed == 1


async def test_nested_observers_closed_before_start_both_abort() -> None:
    response, upstream = streamed([batch("a"), complete])
    inner = observed_log(response)
    outer = observed_log(response)
    assert response.stream is not None
    await getattr(response.stream, "aclose")()  # noqa: B009
    assert inner.entries == ["abort"] and outer.entries == ["abort"]
    assert upstream.closed == 1


async def test_observed_returns_the_wrapper_without_assigning_it() -> None:
    response, upstream = streamed([complete, batch("a")])
    log = Log(response)
    assert isinstance(response.stream, Upstream)
    wrapped = observed(
        response, response.stream, on_complete=log.on_complete, on_abort=log.on_abort
    )
    assert isinstance(response.stream, Upstream)
    async for got in wrapped:
        log.consumed(got)
    assert log.entries == ["complete", "a"]
    assert upstream.closed == 1


async def test_anext_works_on_the_wrapper_itself() -> None:
    response, upstream = streamed([batch("a"), complete, batch("b")])
    log = observed_log(response)
    assert response.stream is not None
    first = await response.stream.__anext__()
    second = await response.stream.__anext__()
    assert names([first, second]) == ["a", "b"]
    with pytest.raises(StopAsyncIteration):
        await response.stream.__anext__()
    assert log.entries == ["complete"]
    assert upstream.closed == 1


def test_observe_needs_a_stream() -> None:
    response = ChatResponse(dialect="openai", model="m", provider="p", body={})

    async def nothing(*_: object) -> None:
        return None

    with pytest.raises(ValueError, match="streamed"):
        observe(response, on_complete=nothing, on_abort=nothing)


async def test_an_error_thrown_in_by_the_consumer_after_completion_is_not_swallowed() -> None:
    # Only the upstream's own errors after the end are ignored.
    response, upstream = streamed([complete, batch("a"), batch("b")])
    log = observed_log(response)
    assert response.stream is not None
    gen = response.stream.__aiter__()
    assert names([await gen.__anext__()]) == ["a"]
    athrow = getattr(gen, "athrow")  # noqa: B009
    with pytest.raises(KeyError):
        await athrow(KeyError("consumer"))
    assert log.entries == ["complete"] and log.aborts == []
    assert upstream.closed == 1
