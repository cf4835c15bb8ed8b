"""An observed stream closed by its consumer leaves no reference cycle: the exception
that ended it (kept for ``on_abort``; its traceback holds the observer's frame) is dropped
whether the stream completed or not."""

from __future__ import annotations

import types

import pytest

from tests.gateway.test_stream_cycles import cyclic_garbage
from tests.streams.fakes import batch, complete, streamed
from thrifty.streams import observed


async def _nothing() -> None:
    return None


async def _ignore(exc: BaseException | None, handed_on: bool) -> None:
    return None


def _observers_frames(garbage: list[object]) -> list[str]:
    return [
        item.f_code.co_name
        for item in garbage
        if isinstance(item, types.FrameType) and item.f_code.co_name == "_observe"
    ]


@pytest.mark.parametrize("completed", [False, True], ids=["mid-stream", "after-the-end"])
async def test_a_stream_closed_by_its_consumer_leaves_no_cycle(completed: bool) -> None:
    async def one_stream() -> None:
        script = [batch("a"), complete, batch("b"), batch("c")] if completed else [batch("a")] * 3
        response, upstream = streamed(script)
        stream = observed(response, upstream, on_complete=_nothing, on_abort=_ignore)
        async for _ in stream:
            if not completed or response.stream_complete:
                break  # the consumer closes the stream (GeneratorExit at the yield)
        await stream.aclose()

    await one_stream()  # warm
    with cyclic_garbage() as garbage:
        await one_stream()
    assert _observers_frames(garbage) == []
