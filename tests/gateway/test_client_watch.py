"""ClientWatch: one receive() watched across the call and the stream that follows."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive

from thrifty.gateway.answers import ClientWatch


def hang_up_when(signal: asyncio.Event) -> Receive:
    async def receive() -> Message:
        await signal.wait()
        return {"type": "http.disconnect"}

    return receive


async def test_a_hang_up_while_armed_cancels_the_task() -> None:
    signal = asyncio.Event()
    watch = ClientWatch(hang_up_when(signal))
    signal.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert watch.gone
    watch.close()


async def test_a_hang_up_while_disarmed_acts_when_armed_again() -> None:
    signal = asyncio.Event()
    watch = ClientWatch(hang_up_when(signal))
    watch.armed = False
    signal.set()
    await asyncio.sleep(0.01)  # the message arrives; nothing happens while disarmed
    assert not watch.gone
    watch.arm()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert watch.gone
    watch.close()


async def test_a_cancellation_absorbed_before_the_stream_is_delivered_again_on_arm() -> None:
    signal = asyncio.Event()
    watch = ClientWatch(hang_up_when(signal))
    task = asyncio.current_task()
    assert task is not None
    signal.set()
    with pytest.raises(asyncio.CancelledError):
        for _ in range(100):
            await asyncio.sleep(0)
    task.uncancel()  # what the call's end does with a hang-up it saw as the answer came
    watch.armed = False
    assert watch.gone
    watch.arm()  # the stream starts: the client is still gone
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    task.uncancel()
    watch.close()


async def test_a_closed_watch_never_cancels() -> None:
    signal = asyncio.Event()
    watch = ClientWatch(hang_up_when(signal))
    watch.close()
    signal.set()
    await asyncio.sleep(0.01)
    assert not watch.gone


async def test_a_message_other_than_disconnect_is_not_a_hang_up() -> None:
    async def receive() -> Message:
        return {"type": "http.request"}

    watch = ClientWatch(receive)
    await asyncio.sleep(0.01)
    assert not watch.gone
    watch.close()
