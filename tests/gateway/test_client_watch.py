"""ClientWatch: one watch across the call and the stream that follows: one receive()
awaited under any ASGI server, the request's DisconnectHook under the gateway's own."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope

from thrifty.gateway.answers import ClientWatch
from thrifty.serving import DISCONNECT_HOOK, DisconnectHook, disconnect_hook


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


# Under the gateway's own server: the request's DisconnectHook, no receive() task.


def hooked_scope() -> tuple[Scope, DisconnectHook]:
    hook = DisconnectHook()
    return {"type": "http", "extensions": {DISCONNECT_HOOK: {"hook": hook}}}, hook


async def never_called() -> Message:
    raise AssertionError("receive() is not awaited when the server gives a hook")


async def test_with_a_hook_a_hang_up_while_armed_cancels_the_task() -> None:
    scope, hook = hooked_scope()
    watch = ClientWatch(never_called, scope)
    asyncio.get_running_loop().call_soon(hook.fire)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert watch.gone
    watch.close()


async def test_with_a_hook_a_hang_up_while_disarmed_acts_when_armed_again() -> None:
    scope, hook = hooked_scope()
    watch = ClientWatch(never_called, scope)
    watch.armed = False
    hook.fire()
    await asyncio.sleep(0.01)
    assert not watch.gone
    watch.arm()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert watch.gone
    watch.close()


async def test_with_a_hook_a_client_gone_before_the_watch_began_is_seen() -> None:
    scope, hook = hooked_scope()
    hook.fire()
    watch = ClientWatch(never_called, scope)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert watch.gone
    watch.close()


async def test_with_a_hook_a_closed_watch_never_cancels() -> None:
    scope, hook = hooked_scope()
    watch = ClientWatch(never_called, scope)
    watch.close()
    assert hook.callback is None
    hook.fire()
    await asyncio.sleep(0.01)
    assert not watch.gone


def test_a_scope_without_the_extension_has_no_hook() -> None:
    assert disconnect_hook({"type": "http"}) is None
    assert disconnect_hook({"type": "http", "extensions": {DISCONNECT_HOOK: {}}}) is None
    assert disconnect_hook({"type": "http", "extensions": {DISCONNECT_HOOK: {"hook": 1}}}) is None
